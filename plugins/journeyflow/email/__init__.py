"""Email: rendering, the outbox, transports and the exactly-once sender.

``enqueue`` renders the queued decisions into the outbox (in the decision transaction);
``sender.send`` delivers a campaign's queue through a ``transport``; ``admin`` shows and settles
what is in doubt; ``templates`` checks every template before a customer sees it.
"""
