"""The explain page in a real browser (headless Chromium driven by Selenium).

One browser serves the whole module. The pages are built from the same translations the line-map
tests use; the expected highlights come from the rewriter's line map, never from the page.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.explain.browser_support import assert_offline, chromium_or_skip, highlighted, open_page
from tests.explain.shared import (
    REFERENCE,
    ROOT,
    SEED_CNN,
    SEED_MLP,
    WITH_DIAGNOSTICS,
    mapped,
    mapped_text,
)
from translator.diagnostics import Severity
from translator.explain.mapping import explained
from translator.explain.page import explain_page, write_page
from translator.rules.registry import rule_by_code


@pytest.fixture(scope="module")
def driver():
    browser = chromium_or_skip()
    yield browser
    browser.quit()


def explained_file(relative: str):
    return explained((ROOT / relative).read_text(), relative, mapped(relative))


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """(Explained, written page) for the seed CNN and the file with diagnostics."""
    directory = tmp_path_factory.mktemp("explain")
    seed = explained_file(SEED_CNN)
    gate = explained(WITH_DIAGNOSTICS, "gate.py", mapped_text(WITH_DIAGNOSTICS))
    return {name: (item, write_page(explain_page(item), directory / f"{name}.html"))
            for name, item in (("seed", seed), ("gate", gate))}


def test_page_loads_offline_with_no_console_error_and_no_request(driver, pages):
    for _, page in pages.values():
        open_page(driver, page)
        assert driver.find_element(By.ID, "flax-code").is_displayed()
        assert_offline(driver, page)


def test_clicking_a_pytorch_line_highlights_exactly_the_mapped_flax_lines(driver, pages):
    item, page = pages["seed"]
    open_page(driver, page)
    mapped_lines = sorted(item.source_blocks)
    assert len(mapped_lines) >= 10
    for line in mapped_lines:
        driver.find_element(By.ID, f"t-{line}").click()
        assert highlighted(driver, "flax-code") == item.flax_lines_of(line), f"PyTorch line {line}"
        driver.find_element(By.ID, f"t-{line}").click()  # unpin
        assert highlighted(driver, "flax-code") == []


def test_clicking_a_flax_line_highlights_the_pytorch_statement_it_came_from(driver, pages):
    item, page = pages["seed"]
    open_page(driver, page)
    for line, index in sorted(item.flax_block.items())[::3]:
        driver.find_element(By.ID, f"f-{line}").click()
        block = item.blocks[index]
        assert highlighted(driver, "torch-code") == list(block.source.lines()), f"Flax line {line}"
        assert highlighted(driver, "flax-code") == list(block.flax.lines())
        driver.find_element(By.ID, f"f-{line}").click()


def test_arrow_keys_and_enter_pin_a_line(driver, pages):
    item, page = pages["seed"]
    open_page(driver, page)
    target = next(n for n in sorted(item.source_blocks) if "conv1(x)" in item.source_lines[n - 1])
    pane = driver.find_element(By.ID, "torch-code")
    pane.click()  # focus; the click pinned a line: Escape unpins
    pane.send_keys(Keys.ESCAPE)
    driver.execute_script("document.querySelectorAll('.line.cursor').forEach(e => e.classList.remove('cursor'))")
    pane.send_keys(*([Keys.ARROW_DOWN] * target), Keys.ENTER)
    assert driver.find_element(By.ID, f"t-{target}").get_attribute("class").split().count("cursor") == 1
    assert highlighted(driver, "flax-code") == item.flax_lines_of(target)


def test_every_rule_code_on_the_page_opens_its_explanation(driver, pages):
    for _, page in pages.values():
        open_page(driver, page)
        codes = driver.execute_script(
            "return Array.from(new Set(Array.from(document.querySelectorAll('button.rule'))"
            ".filter(b => !b.closest('#panel')).map(b => b.dataset.rule)))")
        assert codes
        for code in codes:
            rule = rule_by_code(code)
            assert rule is not None, f"{code} is linked but no rule has it"
            button = driver.find_element(By.CSS_SELECTOR, f"main button.rule[data-rule='{code}']")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
            button.click()
            panel = driver.find_element(By.ID, "panel")
            assert panel.is_displayed(), (code, driver.execute_script("return [document.getElementById('panel').hidden, document.activeElement.outerHTML.slice(0, 120)]"))
            shown = [a for a in panel.find_elements(By.CSS_SELECTOR, ".rule-doc") if a.is_displayed()]
            assert [a.get_attribute("id") for a in shown] == [f"rule-{code}"]
            assert rule.name in shown[0].text and "Why JAX differs".upper() in shown[0].text.upper()
            driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            assert not panel.is_displayed()


def test_each_diagnostic_stands_at_its_line(driver, pages):
    for item, page in pages.values():
        open_page(driver, page)
        assert item.translation.diagnostics
        for diagnostic in item.translation.diagnostics:
            line = driver.find_element(By.ID, f"t-{diagnostic.line}")
            notes = line.find_elements(By.CSS_SELECTOR, f".diag[data-code='{diagnostic.code}']")
            assert any(diagnostic.message[:40] in " ".join(n.text.split()) for n in notes), diagnostic.format()
            kind = "error" if diagnostic.severity is Severity.ERROR else "warning"
            assert all(kind in n.get_attribute("class").split() for n in notes)
    gate, _ = pages["gate"]
    assert {d.code: d.severity for d in gate.translation.diagnostics} == {"X001": Severity.ERROR, "S017": Severity.WARNING}


@pytest.mark.parametrize("relative", [*REFERENCE, SEED_MLP])
def test_every_model_page_loads_and_maps(driver, tmp_path, relative):
    item = explained_file(relative)
    page = write_page(explain_page(item), tmp_path / "page.html")
    open_page(driver, page)
    assert_offline(driver, page)
    blocks = driver.execute_script("return window.torch2flax.blocks.length")
    assert blocks == len(item.blocks) > 0
    first = min(item.source_blocks)
    driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, f"t-{first}"))
    driver.find_element(By.ID, f"t-{first}").click()
    assert highlighted(driver, "flax-code") == item.flax_lines_of(first)
