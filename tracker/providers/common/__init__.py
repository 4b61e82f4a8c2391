"""What every provider parser shares: lenient value readers, timestamps, bounded JSON, storable text, errors, the webhook authenticity request."""
