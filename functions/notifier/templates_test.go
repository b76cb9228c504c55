package notifier

import "testing"

// TestWorkerTemplatesParse: the worker parses its texts on first use, not in New
// (workerTemplates), so a text that does not parse shows here, not at a replica's start.
func TestWorkerTemplatesParse(t *testing.T) {
	ts, err := workerTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for key, byLang := range ts {
		if byLang[German] == nil || byLang[English] == nil {
			t.Errorf("%s: want German and English, got %d languages", key, len(byLang))
		}
	}
}
