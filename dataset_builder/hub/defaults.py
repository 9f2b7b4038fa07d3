"""How long a Hub request may take and how often it is tried, unless told otherwise.

Apart from `hub.http` so that the CLI can show them in its options' help without importing the Hub
client (a third of a second) for commands that never talk to the Hub.
"""

TIMEOUT = 60.0  # seconds without a byte from the Hub before a request fails
CONNECT_TIMEOUT = 10.0  # seconds to open a connection (at most the timeout)
TRIES = 4  # attempts of one request in all, the first included
