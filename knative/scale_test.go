package knative_test

import (
	"fmt"
	"strconv"
	"testing"
)

const (
	minScaleKey = "autoscaling.knative.dev/min-scale"
	maxScaleKey = "autoscaling.knative.dev/max-scale"
)

var templateAnnotations = []string{"spec", "template", "metadata", "annotations"}

func annotationPath(key string) []string {
	return append(append([]string{}, templateAnnotations...), key)
}

// bounds returns the (min, max) an environment must have for row.
func (row scaleRow) bounds(env string) (int, int, error) {
	switch env {
	case "staging":
		return row.StagingMin, row.StagingMax, nil
	case "production":
		return row.ProdMin, row.ProdMax, nil
	}
	return 0, 0, fmt.Errorf("the scale table has no column for environment %q", env)
}

// checkScale holds every Knative Service of an overlay to the scale table:
// min-scale and max-scale on the revision template, exactly.
func checkScale(r *rendered, table []scaleRow) []problem {
	var ps []problem
	for _, svc := range r.knativeServices() {
		row, ok := findRow(table, svc.Name)
		if !ok {
			ps = append(ps, problem{File: "knative/scale_table_test.go", Object: svc.String(), Field: "scaleTable",
				Msg: ": no row; add the Service's design.md §6 row (and its overlay rows)"})
			continue
		}
		wantMin, wantMax, err := row.bounds(r.env())
		if err != nil {
			ps = append(ps, problem{File: r.Dir, Object: svc.String(), Field: "scaleTable", Msg: ": " + err.Error()})
			continue
		}
		for _, c := range []struct {
			key  string
			want int
		}{{minScaleKey, wantMin}, {maxScaleKey, wantMax}} {
			p := annotationPath(c.key)
			got := str(svc.M, p...)
			if got == strconv.Itoa(c.want) {
				continue
			}
			file := r.origin("Service", svc.Name, p...)
			if file == "" {
				file = r.Dir + "/scale.yaml"
			}
			ps = append(ps, problem{File: file, Object: svc.String(), Field: fieldName(p...), Msg: wantGot(got, strconv.Itoa(c.want))})
		}
	}
	return ps
}

func findRow(table []scaleRow, service string) (scaleRow, bool) {
	for _, r := range table {
		if r.Service == service {
			return r, true
		}
	}
	return scaleRow{}, false
}

// checkScaleTable keeps the table itself consistent with design.md §6's
// rules: staging never above production, min never above max, and a peak
// min between production min and max.
func checkScaleTable(table []scaleRow) []problem {
	var ps []problem
	seen := map[string]bool{}
	add := func(row scaleRow, field, msg string) {
		ps = append(ps, problem{File: "knative/scale_table_test.go", Object: "scaleTable " + row.Service, Field: field, Msg: msg})
	}
	for _, row := range table {
		if seen[row.Service] {
			add(row, "Service", ": duplicate row")
		}
		seen[row.Service] = true
		if row.StagingMin > row.ProdMin {
			add(row, "StagingMin", fmt.Sprintf(" = %d, above ProdMin %d", row.StagingMin, row.ProdMin))
		}
		if row.StagingMax > row.ProdMax {
			add(row, "StagingMax", fmt.Sprintf(" = %d, above ProdMax %d", row.StagingMax, row.ProdMax))
		}
		if row.StagingMin > row.StagingMax {
			add(row, "StagingMin", fmt.Sprintf(" = %d, above StagingMax %d", row.StagingMin, row.StagingMax))
		}
		if row.ProdMin > row.ProdMax {
			add(row, "ProdMin", fmt.Sprintf(" = %d, above ProdMax %d", row.ProdMin, row.ProdMax))
		}
		if row.ProdMax < 1 {
			add(row, "ProdMax", " = 0: a Service needs at least one replica under load")
		}
		if row.PeakMin != 0 && (row.PeakMin < row.ProdMin || row.PeakMin > row.ProdMax) {
			add(row, "PeakMin", fmt.Sprintf(" = %d, outside [ProdMin %d, ProdMax %d]", row.PeakMin, row.ProdMin, row.ProdMax))
		}
		if row.Source == "" {
			add(row, "Source", ": empty; say where the numbers come from")
		}
	}
	return ps
}

func TestScaleTableIsConsistent(t *testing.T) {
	t.Parallel()
	report(t, "scale table", checkScaleTable(scaleTable))
}

func TestScaleTableRejectsStagingAboveProduction(t *testing.T) {
	t.Parallel()
	bad := []scaleRow{
		{Service: "a", StagingMin: 3, StagingMax: 6, ProdMin: 2, ProdMax: 6, Source: "x"},
		{Service: "b", StagingMin: 1, StagingMax: 9, ProdMin: 2, ProdMax: 6, Source: "x"},
		{Service: "c", StagingMin: 1, StagingMax: 2, ProdMin: 2, ProdMax: 6, PeakMin: 7, Source: "x"},
	}
	ps := checkScaleTable(bad)
	mustContain(t, ps, "knative/scale_table_test.go: scaleTable a: StagingMin = 3, above ProdMin 2")
	mustContain(t, ps, "knative/scale_table_test.go: scaleTable b: StagingMax = 9, above ProdMax 6")
	mustContain(t, ps, "knative/scale_table_test.go: scaleTable c: PeakMin = 7, outside [ProdMin 2, ProdMax 6]")
}

func TestOverlayScaleMatchesTable(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t)[1:] {
		if len(r.knativeServices()) == 0 {
			t.Fatalf("%s renders no Knative Service", r.Dir)
		}
		report(t, r.Dir, checkScale(r, scaleTable))
	}
}

// TestScaleMutationsAreCaught changes the manifests in memory and pins the
// message a developer would see.
func TestScaleMutationsAreCaught(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		overlay string
		mutate  func(*tree)
		want    string
	}{
		{
			name:    "production min-scale changed",
			overlay: "overlays/production",
			mutate: func(tr *tree) {
				tr.editDoc("overlays/production/scale.yaml", "Service", "locations-api", func(m map[string]any) {
					mapAt(m, templateAnnotations...)[minScaleKey] = "3"
				})
			},
			want: `overlays/production/scale.yaml: Service locations-api: spec.template.metadata.annotations[autoscaling.knative.dev/min-scale] = "3", want "2"`,
		},
		{
			name:    "staging max-scale changed",
			overlay: "overlays/staging",
			mutate: func(tr *tree) {
				tr.editDoc("overlays/staging/scale.yaml", "Service", "locations-api", func(m map[string]any) {
					mapAt(m, templateAnnotations...)[maxScaleKey] = "60"
				})
			},
			want: `overlays/staging/scale.yaml: Service locations-api: spec.template.metadata.annotations[autoscaling.knative.dev/max-scale] = "60", want "6"`,
		},
		{
			name:    "overlay row missing",
			overlay: "overlays/production",
			mutate: func(tr *tree) {
				tr.editDoc("overlays/production/scale.yaml", "Service", "locations-api", func(m map[string]any) {
					delete(mapAt(m, templateAnnotations...), minScaleKey)
				})
			},
			want: `overlays/production/scale.yaml: Service locations-api: spec.template.metadata.annotations[autoscaling.knative.dev/min-scale] is not set, want "2"`,
		},
		{
			name:    "scale set only in base",
			overlay: "overlays/staging",
			mutate: func(tr *tree) {
				tr.editDoc("overlays/staging/scale.yaml", "Service", "locations-api", func(m map[string]any) {
					delete(mapAt(m, templateAnnotations...), minScaleKey)
				})
				tr.editDoc("base/locations-api.yaml", "Service", "locations-api", func(m map[string]any) {
					mapAt(m, templateAnnotations...)[minScaleKey] = "1"
				})
			},
			want: `base/locations-api.yaml: Service locations-api: spec.template.metadata.annotations[autoscaling.knative.dev/min-scale] = "1", want "2"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.mutate(tr)
			r, err := tr.render(tt.overlay)
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, checkScale(r, scaleTable), tt.want)
		})
	}
}

func TestServiceWithoutTableRowIsCaught(t *testing.T) {
	t.Parallel()
	m, err := pristine()
	if err != nil {
		t.Fatal(err)
	}
	r := m["overlays/production"]
	var table []scaleRow
	for _, row := range scaleTable {
		if row.Service != "locations-api" {
			table = append(table, row)
		}
	}
	mustContain(t, checkScale(r, table), "knative/scale_table_test.go: Service locations-api: scaleTable: no row…")
}
