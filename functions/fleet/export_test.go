package fleet

// CandidatesSQL and CandidatesArgs let the scale test EXPLAIN the very statement a search
// runs, with the very arguments it binds.
var (
	CandidatesSQL  = candidatesSQL
	CandidatesArgs = candidatesArgs
)
