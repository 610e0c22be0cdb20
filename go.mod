module smtpfeed

go 1.26.0
