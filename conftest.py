import os

# Tests run with development settings (generated keys under var/) unless told otherwise.
os.environ.setdefault("DJANGO_DEBUG", "true")
