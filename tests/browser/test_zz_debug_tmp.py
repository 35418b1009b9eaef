import pytest
from tests.browser.test_security_quick_exit import private_tab
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
def test_debug(contexts, couple, alice):
    page, held = private_tab(contexts, alice)
    page.on("console", lambda m: print("CONSOLE", m.text))
    page.locator("#quick-exit").click(no_wait_after=True)
    for i in range(5):
        page.wait_for_timeout(300)
        print(i, page.evaluate("() => [document.body.hidden, document.title, location.href]"), len(held))
