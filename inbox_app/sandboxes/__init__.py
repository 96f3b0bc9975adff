"""Loopback imitations of the marketplaces' seller APIs (eBay, Kaufland, Allegro, Mirakl) over real HTTP.

Each follows the vendor's published contract (paths, fields, paging, auth, error bodies) and can inject faults
(429 + Retry-After, 5xx, slow, dropped connections, malformed JSON, expired and revoked tokens). The tests start
them per test; ``inbox-app demo --live`` (``services.live_demo``) starts them in the background so a newcomer
sees real sync and replies without a marketplace account. Standard library only; they listen on 127.0.0.1.
"""
