"""Amazon SES through SNS: the SNS envelope, SES events (parse, facts) and the SNS signature (auth)."""
