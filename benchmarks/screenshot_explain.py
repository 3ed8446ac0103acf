"""Write the README's screenshot of the seed CNN's explain page (headless Chromium).

    python benchmarks/screenshot_explain.py [docs/explain_seed_cnn.png]

The page is the one ``torch2flax explain examples/seed_cnn.py -o PAGE.html`` writes; the
screenshot shows it with ``self.conv1 = ...``'s statement pinned and rule L002's explanation open.
Needs Debian's chromium and chromium-driver and Selenium (the dev extra).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.by import By

from translator.explain import explain_file, explain_page, write_page
from translator.explain.browser import start_chromium

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/seed_cnn.py"


def main(output: str = "docs/explain_seed_cnn.png") -> int:
    import os

    os.chdir(ROOT)  # the page names the file as the user typed it
    explained = explain_file(SEED)
    with tempfile.TemporaryDirectory() as directory:
        page = write_page(explain_page(explained), Path(directory) / "seed_cnn.html")
        driver = start_chromium(width=1500, height=860)
        try:
            driver.get(page.as_uri())
            line = next(n for n in sorted(explained.source_blocks) if "self.conv1 = " in explained.source_lines[n - 1])
            driver.find_element(By.ID, f"t-{line}").click()
            driver.find_element(By.CSS_SELECTOR, "#flax-code button.rule[data-rule='L002']").click()
            time.sleep(0.3)
            target = ROOT / output
            target.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(target))
        finally:
            driver.quit()
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
