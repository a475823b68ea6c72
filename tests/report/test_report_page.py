"""The shared page shell and SVG charts render in headless Chromium: not blank, no console errors.

Every HTML output of rulec (views, diff and simulation reports) is built from these parts; this
test also shows the browser harness can fail (a page with a script error is caught)."""

from support.browser import needs_browser, open_page

from rulec.report import html, svg

pytestmark = needs_browser


def _page():
    hours = [f"{h:02d}" for h in range(24)]
    return html.page(
        "山野茶铺 · report",
        html.section(
            "Load per agent",
            svg.figure(svg.bars(["小美", "婷婷", "bob"], [48, 30, 12], "chats", "chats")),
        ),
        html.section(
            "By hour",
            svg.figure(
                svg.lines(
                    hours,
                    {
                        "reply rate": [0.5 + h / 100 for h in range(24)],
                        "pool": [None] * 8 + [3.0] * 16,
                    },
                    "rate",
                    "share",
                )
            ),
        ),
        html.section(
            "Trade-off",
            svg.figure(
                svg.scatter(
                    [(0.1, 30, "efficiency"), (0.3, 36, "conversion high")],
                    "variants",
                    "Gini",
                    "conversions",
                    y_err=[1.5, 2.0],
                )
            ),
        ),
        html.section(
            "Table",
            html.table(["group", "chats", "share"], [["售前<A>", 14, 0.25], ["售后", 3, 0.05]]),
        ),
        subtitle="generated for a test",
    )


def test_page_renders_with_ink_and_no_errors(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(_page(), encoding="utf-8")
    res = open_page(path)
    res.save(tmp_path / "report.png")
    assert res.errors == []
    assert res.title == "山野茶铺 · report"
    assert res.ink() > 0.02  # charts and text, not a blank page
    assert res.distinct_colours() > 8  # several palette colours drew


def test_text_is_escaped():
    doc = _page()
    assert "售前&lt;A&gt;" in doc and "<A>" not in doc


def test_the_harness_sees_script_errors(tmp_path):
    path = tmp_path / "bad.html"
    path.write_text("<html><body><p>x</p><script>undefinedFunction();</script></body></html>")
    res = open_page(path)
    assert any("undefinedFunction" in e for e in res.errors), res.errors


def test_the_harness_sees_a_blank_page(tmp_path):
    path = tmp_path / "blank.html"
    path.write_text("<html><body></body></html>")
    assert open_page(path).ink() == 0.0
