"""The app's stylesheet parses as written: every rule at the top level (or in its @media),
none swallowed by an unclosed block. Chromium nests rules under an unclosed one, which
once silently restyled the folder menus, dialogs and address suggestions after a merge."""

from __future__ import annotations

import pytest

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser

pytestmark = pytest.mark.browser


def test_no_rule_is_nested_by_accident(mailgate: RunningMailgate, open_browser: OpenBrowser):
    page = open_browser(mailgate).page
    page.goto(mailgate.url + "/")
    page.get_by_test_id("login-email").wait_for()
    found = page.evaluate(
        """() => {
          const nested = [];
          let rules = 0;
          const walk = (list) => {
            for (const rule of list) {
              rules += 1;
              if (rule instanceof CSSStyleRule && rule.cssRules && rule.cssRules.length) {
                nested.push(rule.selectorText);
              }
              if (rule instanceof CSSGroupingRule && !(rule instanceof CSSStyleRule)) {
                walk(rule.cssRules);
              }
            }
          };
          for (const sheet of document.styleSheets) walk(sheet.cssRules);
          return {nested, rules};
        }"""
    )
    assert found["rules"] > 200, found  # the app's sheet was read at all
    assert found["nested"] == [], found["nested"]
