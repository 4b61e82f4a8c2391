"""What every provider parser shares.

Lenient value readers, timestamps, bounded JSON, storable text, errors, the webhook
authenticity request.
"""
