// Package otp implements the one-time-password building blocks of gatehouse's
// two-factor authentication: HOTP and TOTP codes (RFC 4226, RFC 6238) with
// replay protection, otpauth:// enrolment URLs and their QR codes, recovery
// codes, short numeric codes for email and SMS, and encryption at rest for the
// TOTP secrets the server has to read back.
//
// The package holds no state. Single use (OWASP ASVS 6.5.1) is achieved by the
// caller storing the step returned by [TOTP.Verify] and passing it back on the
// next verification, and by deleting recovery codes and out-of-band codes once
// they have been accepted.
package otp
