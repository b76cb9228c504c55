// Command benchgate judges the output of `make bench` (go test -bench, text or -json) against
// the floors of internal/benchgate: it prints one table — figure, same-run baseline, ratio,
// target, ok/FAIL — and exits 1 when a ratio misses its floor, a gated benchmark did not
// report or a package failed.
//
//	benchgate [-subset] [file ...]   (no file: standard input)
//
// -subset (make bench BENCH_ONLY=regex) leaves out the rows of packages that did not run.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/orangecarrental/orange/internal/benchgate"
)

func main() {
	subset := flag.Bool("subset", false, "only some benchmark lines ran: rows of packages that did not run are not judged")
	flag.Parse()
	pass, err := run(os.Stdout, *subset, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchgate:", err)
		os.Exit(2)
	}
	if !pass {
		os.Exit(1)
	}
}

func run(w io.Writer, subset bool, files []string) (bool, error) {
	var readers []io.Reader
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return false, err
		}
		defer fh.Close()
		readers = append(readers, fh)
	}
	if len(readers) == 0 {
		readers = append(readers, os.Stdin)
	}
	res, err := benchgate.Parse(io.MultiReader(readers...))
	if err != nil {
		return false, err
	}
	return benchgate.Report(w, benchgate.Evaluate(benchgate.Floors(), res, subset), res), nil
}
