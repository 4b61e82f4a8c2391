"""Wiring Amazon SES to the tracker: read each link, plan what to change, apply it, wait for the handshake.

links.py (plain data: what is asked, what is there), policy.py (the topic policy),
changes.py (the changes, one value each), plan.py (pure: the changes and the doctor's
findings), clients.py, read.py and apply.py (the only modules that call AWS or the database),
confirmation.py (the bounded wait for the SNS handshake).
"""
