package smtpwire

import "crypto/tls"

// testTLSConfig trusts the fake's self-signed certificate, as the probe's
// opportunistic TLS does.
func testTLSConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
}
