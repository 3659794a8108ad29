#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ceol.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A configuration mistake is one clear line, not a traceback (see README "Configuration").
        sys.stderr.write(f"ceol is not configured: {exc} (for development, set DEBUG=1)\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
