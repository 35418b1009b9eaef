import pytest, time
from tests.browser.test_security_quick_exit import private_tab

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_dbg(contexts, couple, alice):
    page, held = private_tab(contexts, alice)
    page.locator("#quick-exit").click(no_wait_after=True)
    for i in range(5):
        time.sleep(0.3)
        try:
            print("eval", page.evaluate("[document.body.hidden, document.title, location.href]", ), len(held))
        except Exception as e:
            print("err", e, len(held))
    print(page.url)
