"""The message attributes an application may register and the compatible read APIs filter on."""

# Registered with POST /api/v1/messages, or carried by SES message tags and provider
# webhooks; Infobip's, Elevate's and SendCloud's reads filter on them.
ATTRIBUTE_TAGS = ("bulkId", "campaignReferenceId", "applicationId", "entityId", "billRunType", "billRunId",
                  "customerId", "siteId", "contactId", "labelId", "labelName")
