"""The sweep benchmark (``python manage.py bench_sweep``): data generator, the
per-session reference algorithm, the hand-tuned raw SQL "limit", and the runner."""
