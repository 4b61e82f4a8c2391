"""The vocabulary of inbox rows: what kind of raw event a row holds, and the states it moves through."""

# kind: how to read the body
NOTIFICATION = "notification"  # an SNS Notification envelope (SES event inside)
SUBSCRIPTION_CONFIRMATION = "subscription_confirmation"
UNSUBSCRIBE_CONFIRMATION = "unsubscribe_confirmation"
RAW = "raw"  # an SES message delivered without its SNS envelope (SQS raw delivery)
WEBHOOK = "webhook"  # a provider webhook body, as sent
WEBHOOK_BASE64 = "webhook_base64"  # a webhook body that was not UTF-8, kept base64-encoded

# state
PENDING = "pending"
PROCESSED = "processed"
FAILED = "failed"
