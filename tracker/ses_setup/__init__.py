"""Wiring Amazon SES to the tracker: read each link, plan what to change, apply it, wait for the handshake.

links.py (plain data: what is asked, what is there), policy.py (the topic policy), plan.py
(pure: the changes and the doctor's findings), read.py and apply.py (the only modules that
call AWS or the database), confirmation.py (the bounded wait for the SNS handshake).
"""
