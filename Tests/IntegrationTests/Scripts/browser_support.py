"""What the browser test scripts share: headless Chromium from Debian's packages driven by selenium, and pass/fail
reporting. The driver path is always given, so Selenium Manager (which would go online) never runs."""
import os
import shutil
import sys

from checks import check, failures, finish  # noqa: F401 (re-exported for the scripts)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    # Re-exported for the scripts, so each does not repeat the import and its hint.
    from selenium.webdriver.common.action_chains import ActionChains  # noqa: F401
    from selenium.webdriver.common.by import By  # noqa: F401
    from selenium.webdriver.common.keys import Keys  # noqa: F401
    from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: F401
except ImportError:
    print("selenium is missing: pip install selenium", file=sys.stderr)
    sys.exit(2)


def start_chromium(window_size="1280,900", browser_log=False):
    """A headless Chromium (exits 2 when Debian's chromium or chromium-driver is missing)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not chromium or not os.path.exists(driver_path):
        print("chromium and chromium-driver are missing: apt-get install chromium chromium-driver", file=sys.stderr)
        sys.exit(2)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=" + window_size,
                 "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-component-update"]:
        options.add_argument(flag)
    if browser_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
