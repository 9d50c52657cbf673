"""Pushes N log lines to a Loki URL through python-logging-loki (JSON), then exits.

Usage: python3 push_python.py URL KEY N
"""
import logging
import sys

import logging_loki

url, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
handler = logging_loki.LokiHandler(
    url=url + "/loki/api/v1/push",
    tags={"service": "python-app", "node": "py1"},
    auth=("loki", key),
    version="1",
)
logger = logging.getLogger("python-app")
logger.setLevel(logging.INFO)
logger.addHandler(handler)
for i in range(n):
    logger.error("python line %d", i, extra={"tags": {"kind": "test"}})
