"""Live new-mail push: per-session mailbox feeds over IMAP IDLE, or polling."""
