// Package connector knows what the Auth0 AD/LDAP Connector is: its layout,
// the files the customer owns (and which config.json values may name one),
// config.json (order-preserving edits, UTF-8 BOM), which keys are secrets
// and how to redact them, and adldapctl's install record. It knows nothing
// of how the connector is fetched or checked, and nothing of the OS beyond
// paths handed to it.
package connector
