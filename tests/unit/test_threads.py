"""RFC 5256 REFERENCES threading (mailgate/mail/threads.py) against the RFC's rules."""

from __future__ import annotations

from mailgate.mail.threads import Head, Node, base_subject, flatten, groups, parse_head, thread


def h(mid: str | None, refs: str = "", subject: str = "s", date: float = 0.0) -> Head:
    return Head(mid, tuple(r for r in refs.split() if r), subject, date)


def shape(node: Node) -> object:
    """A tree as nested tuples: (key, children...); a placeholder's key is None."""
    if not node.children:
        return node.key
    return (node.key, *[shape(c) for c in node.children])


def run(*items: tuple[str, Head]) -> list[object]:
    return [shape(t) for t in thread(items)]


def test_replies_hang_under_their_parents_sorted_by_date():
    assert run(
        ("a", h("a@x", subject="Plan", date=1)),
        ("c", h("c@x", "a@x b@x", "Re: Plan", 3)),
        ("b", h("b@x", "a@x", "Re: Plan", 2)),
        ("d", h("d@x", "a@x", "Re: Plan", 4)),
    ) == [("a", ("b", "c"), "d")]


def test_missing_parent_with_one_child_is_promoted_to_the_top():
    # b and c both reply to a message we do not have: at the top, a placeholder with two
    # children stays (section 4 step 3: promoting both would make them roots).
    assert run(("b", h("b@x", "gone@x", "Re: x", 2)), ("c", h("c@x", "gone@x", "Re: x", 3))) == [
        (None, "b", "c")
    ]
    # one child only: the placeholder goes and the child is the root
    assert run(("b", h("b@x", "gone@x", "Re: x", 2))) == ["b"]


def test_missing_middle_message_is_spliced_out():
    # a <- (missing m) <- c: the placeholder below the root is removed, c becomes a's child
    assert run(("a", h("a@x", "", "T", 1)), ("c", h("c@x", "a@x m@x", "Re: T", 3))) == [("a", "c")]


def test_two_missing_children_below_a_root_are_promoted_below_it():
    assert run(
        ("a", h("a@x", "", "T", 1)),
        ("b", h("b@x", "a@x m@x", "Re: T", 3)),
        ("c", h("c@x", "a@x m@x", "Re: T", 2)),
    ) == [("a", "c", "b")]


def test_loops_are_never_made():
    # each claims the other as parent: the second link would make a loop and is refused
    out = run(("a", h("a@x", "b@x", "x", 1)), ("b", h("b@x", "a@x", "y", 2)))
    keys = sorted(k for t in out for k in _keys(t))
    assert keys == ["a", "b"]
    # a message referencing itself is its own root
    assert run(("a", h("a@x", "a@x", "self", 1))) == ["a"]
    # a References chain that loops back on itself ends without a cycle
    trees = thread([("a", h("a@x", "p@x q@x p@x", "z", 1))])
    assert groups(trees) == [["a"]]


def _keys(shape_: object) -> list[str]:
    if isinstance(shape_, tuple):
        return [k for part in shape_ for k in _keys(part)]
    return [] if shape_ is None else [shape_]  # type: ignore[list-item]


def test_duplicate_and_missing_message_ids_are_messages_of_their_own():
    out = run(
        ("a", h("a@x", "", "one", 1)),
        ("a2", h("a@x", "", "two", 2)),
        ("n", h(None, "", "three", 3)),
    )
    assert sorted(out) == ["a", "a2", "n"]


def test_subject_less_messages_are_not_grouped_by_subject():
    assert run(("a", h("a@x", "", "", 1)), ("b", h("b@x", "", "", 2))) == ["a", "b"]
    assert run(("a", h("a@x", "", "Re:", 1)), ("b", h("b@x", "", "Re:", 2))) == ["a", "b"]


def test_same_base_subject_groups_replies_under_the_original():
    assert run(
        ("a", h("a@x", "", "Lunch", 1)),
        ("b", h("b@x", "", "Re: lunch", 2)),
    ) == [("a", "b")]


def test_same_subject_two_originals_get_a_placeholder():
    assert run(("a", h("a@x", "", "Lunch", 1)), ("b", h("b@x", "", "Lunch", 2))) == [
        (None, "a", "b")
    ]


def test_a_placeholder_at_the_top_takes_the_same_subject():
    assert run(
        ("b", h("b@x", "gone@x", "Re: Lunch", 2)),
        ("c", h("c@x", "gone@x", "Re: Lunch", 3)),
        ("d", h("d@x", "", "Lunch", 1)),
    ) == [(None, "d", "b", "c")]


def test_base_subject_rules():
    assert base_subject("Re: Re: [list] Fwd: Hello (fwd)") == ("hello", True)
    assert base_subject("[fwd: Hello]") == ("hello", True)
    assert base_subject("  Hello\t  world ") == ("hello world", False)
    assert base_subject("[list] Hello") == ("hello", False)
    assert base_subject("[only a blob]") == ("[only a blob]", False)
    assert base_subject("RE[2]: Hi") == ("hi", True)
    assert base_subject("") == ("", False)


def test_parse_head_reads_ids_subject_and_date():
    raw = (
        b"Message-ID: <m1@x>\r\nIn-Reply-To: <p@x>\r\nReferences: <r@x>\r\n <p@x>\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Thu, 1 Jan 2026 10:00:00 +0000\r\n\r\n"
    )
    head = parse_head(raw, 5.0)
    assert head.message_id == "m1@x"
    assert head.references == ("r@x", "p@x")
    assert head.subject == "Grüße"
    assert head.date == 1767261600.0
    only_reply_to = parse_head(b"In-Reply-To: <p@x> <q@x>\r\nDate: nonsense\r\n\r\n", 5.0)
    assert only_reply_to.references == ("p@x",)
    assert only_reply_to.date == 5.0
    assert only_reply_to.message_id is None
    assert parse_head(None).subject == ""


def test_hostile_headers_stay_bounded():
    refs = b" ".join(b"<r%d@x>" % i for i in range(5000))
    head = parse_head(b"References: " + refs + b"\r\nSubject: " + b"x" * 10_000 + b"\r\n\r\n")
    assert len(head.references) == 64
    assert head.references[-1] == "r4999@x"
    assert len(head.subject) == 500


def test_a_long_chain_threads_without_recursion_limits():
    n = 3000
    items = [("0", h("m0@x", "", "deep", 0))]
    items += [(str(i), h(f"m{i}@x", f"m{i - 1}@x", "Re: deep", i)) for i in range(1, n)]
    trees = thread(items)
    assert len(trees) == 1
    assert flatten(trees[0]) == [str(i) for i in range(n)]
