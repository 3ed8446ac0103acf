"""``rules --html``: the catalogue page lists every registered rule and its search finds them."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.explain.browser_support import assert_offline, chromium_or_skip, open_page
from translator.explain.catalogue_page import write_catalogue
from translator.rules.registry import all_rules, rule_by_code


@pytest.fixture(scope="module")
def driver():
    browser = chromium_or_skip()
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    return write_catalogue(tmp_path_factory.mktemp("rules"))


def shown(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('article.rule-doc')).filter(a => !a.hidden).map(a => a.dataset.rule)")


def search(driver, text: str) -> list[str]:
    box = driver.find_element(By.ID, "search")
    box.clear()
    box.send_keys(text)
    return shown(driver)


def test_the_page_lists_every_registered_rule_with_its_example(driver, catalogue):
    open_page(driver, catalogue)
    assert_offline(driver, catalogue)
    codes = [rule.code for rule in all_rules()]
    assert sorted(shown(driver)) == sorted(codes)
    assert driver.find_element(By.ID, "shown").text == str(len(codes))
    examples = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('article.rule-doc')).map(a => "
        "[a.dataset.rule, Array.from(a.querySelectorAll('figure.example pre')).map(p => p.textContent)]))")
    for rule in all_rules():
        # the example on the page is the one the catalogue test translates
        torch_text, flax_text = examples[rule.code]
        assert " ".join(rule.doc.example.torch.split()) == " ".join(torch_text.split()), rule.code
        assert " ".join(rule.doc.example.flax.split()) == " ".join(flax_text.split()), rule.code


def test_search_finds_a_rule_by_code(driver, catalogue):
    open_page(driver, catalogue)
    found = search(driver, "L002")
    assert "L002" in found and len(found) < 5
    assert driver.find_element(By.ID, "rule-L002").is_displayed()
    assert not driver.find_element(By.ID, "rule-L001").is_displayed()


@pytest.mark.parametrize("name, code", [("Conv2d", "L002"), ("torch.nn.Linear", "L001"), ("layer_norm", None)])
def test_search_finds_a_rule_by_pytorch_name(driver, catalogue, name, code):
    open_page(driver, catalogue)
    found = search(driver, name)
    expected = code or next(r.code for r in all_rules() if any(f.endswith(name) for f in r.torch_functions))
    assert expected in found
    assert all(name.lower() in driver.find_element(By.ID, f"rule-{c}").get_attribute("data-search") for c in found)
    assert len(found) < len(all_rules())


def test_clearing_the_search_shows_every_rule_again(driver, catalogue):
    open_page(driver, catalogue)
    assert search(driver, "no such rule anywhere") == []
    driver.find_element(By.ID, "search").send_keys(Keys.ESCAPE)
    assert len(shown(driver)) == len(all_rules())
    assert rule_by_code("L002") is not None
