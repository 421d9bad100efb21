"""Reading messages, isolated and bounded: a sender's message cannot slow anyone else.

- `limits`: structural limits checked on the raw bytes before any parser sees them;
- `render`: the CPU steps (MIME parsing, sanitizing, previews) as pure functions;
- `workers`: the process pool they run in, with a deadline per task and a share per session;
- `opened`: the render cache's entries; `service`: what the API calls.
"""
