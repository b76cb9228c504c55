package notifier

// WrapSender puts wrap around s's sender (tests: a send that waits for the test). Call it
// before Run.
func WrapSender(s *Service, wrap func(Sender) Sender) { s.sender = wrap(s.sender) }
