// Package smtptest holds what tests of the SMTP side share: the
// standard library's reading of a MIME message, against which the 7-bit
// conversion (smtp.Message.SevenBit) is checked, in proto/smtp's tests
// and in its fuzz target.
package smtptest
