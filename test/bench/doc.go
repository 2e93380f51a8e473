// Package bench measures adldapctl's speed and memory targets against
// baselines taken in the same run (make bench): update downtime against
// the connector's own cold start, download+verify throughput against
// sha256sum and against openssl dgst -sha256 (this CPU's hashing limit, with
// SHA-NI), and peak RSS while installing a 200 MB artifact.
package bench
