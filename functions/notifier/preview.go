package notifier

import (
	"net/http"
	"slices"
	"sort"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// TemplateInfo describes one template: its key (the event type that sends it, or a name),
// its languages, its channels, and the facts a message from it must be given (SendInput).
type TemplateInfo struct {
	Key       string   `json:"key"`
	Languages []string `json:"languages"`
	Channels  []string `json:"channels"`
	// Fields are where a sender gives what the template shows ("reservationId",
	// "data.total", …); Sendable is false for a template that shows a link only its event
	// makes (an address verification, a guest's manage link).
	Fields   []string `json:"fields"`
	Sendable bool     `json:"sendable"`
}

// Preview is a template rendered with sample data.
type Preview struct {
	Key      string `json:"key"`
	Language string `json:"language"`
	Channel  string `json:"channel"`
	Subject  string `json:"subject,omitempty"`
	Body     string `json:"body"`
}

// handleListTemplates lists every template there is, by key.
func (a *APIService) handleListTemplates(w http.ResponseWriter, r *http.Request) error {
	if err := platform.ParseQuery(r).Err("no parameters are taken"); err != nil {
		return err
	}
	keys := make([]string, 0, len(a.templates))
	for k := range a.templates {
		if !isSMSKey(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	items := make([]TemplateInfo, 0, len(keys))
	for _, k := range keys {
		items = append(items, a.templateInfo(k))
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items)})
}

func (a *APIService) templateInfo(key string) TemplateInfo {
	info := TemplateInfo{Key: key, Channels: []string{ChannelEmail}, Sendable: true, Fields: []string{}}
	for lang := range a.templates[key] {
		info.Languages = append(info.Languages, lang)
	}
	sort.Strings(info.Languages)
	if a.hasSMS(key) {
		info.Channels = append(info.Channels, ChannelSMS)
	}
	for _, f := range templateFields(a.templates[key][German]) {
		where, ok := dataFields[f]
		switch {
		case ok && !slices.Contains(info.Fields, where):
			info.Fields = append(info.Fields, where)
		case !ok && f != "Name":
			info.Sendable = false
		}
	}
	sort.Strings(info.Fields)
	return info
}

// handlePreview renders template {key} with sample data in ?lang (de, the default, or en),
// as an email or, where the template has an SMS text, as ?channel=sms.
func (a *APIService) handlePreview(w http.ResponseWriter, r *http.Request) error {
	q := platform.ParseQuery(r, "lang", "channel")
	lang, channel := q.Get("lang"), q.Get("channel")
	if lang == "" {
		lang = German
	}
	if lang != German && lang != English {
		q.Fail("lang", "must be de or en")
	}
	if channel == "" {
		channel = ChannelEmail
	}
	if channel != ChannelEmail && channel != ChannelSMS {
		q.Fail("channel", "must be email or sms")
	}
	if err := q.Err("invalid query"); err != nil {
		return err
	}
	key := platform.PathVar(r, "key")
	if _, ok := a.templates[key]; !ok || isSMSKey(key) {
		return platform.NotFound("no template %s; GET %s/templates lists them", key, APIPrefix)
	}
	if channel == ChannelSMS && !a.hasSMS(key) {
		return platform.NotFound("template %s has no SMS text", key)
	}
	subject, body, err := a.templates.renderFor(key, channel, lang, sampleData(lang))
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, Preview{Key: key, Language: lang, Channel: channel, Subject: subject, Body: body})
}

// sampleData is what a preview shows: a made-up booking, formatted as the worker formats a
// real one for lang.
func sampleData(lang string) mailData {
	zone, err := platform.LoadZone(displayZone)
	if err != nil {
		zone = time.UTC
	}
	const id = "3f2a1b9c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	return mailData{Name: "Erika Mustermann", ReservationID: id, Reference: reference(id), Category: "KOMPAKT",
		PickupLocation: "BER-HBF", ReturnLocation: "MUC-FLG",
		PickupAt: when("2026-07-01T08:00:00Z", zone, lang), ReturnAt: when("2026-07-04T08:00:00Z", zone, lang),
		Total: money(14276, "EUR", lang), Fee: money(7138, "EUR", lang), Reason: "Beispiel / example",
		Amount: money(14276, "EUR", lang), InvoiceNumber: "OCR-2026-000001", Net: money(11997, "EUR", lang),
		VAT: money(2279, "EUR", lang), Gross: money(14276, "EUR", lang),
		VerifyLink: "https://www.example.com/verify-email#token=SAMPLE", ManageLink: "https://www.example.com/booking#token=SAMPLE"}
}

// pick is the parsed template a message of key by channel in lang is made from.
func (a *APIService) pick(key, channel, lang string) (*template.Template, error) {
	if channel == ChannelSMS {
		t := a.smsTemplate(key, lang)
		if t == nil {
			return nil, platform.Errorf(platform.KindUnprocessable, "template %s has no SMS text: send it by email", key)
		}
		return t, nil
	}
	byLang := a.templates[key]
	if t, ok := byLang[lang]; ok {
		return t, nil
	}
	return byLang[German], nil
}

// templateFields are the fields of mailData that t shows unconditionally: every {{.Field}}
// but those inside an {{if .Field}} (or with/range) that tests the same field. A sender must
// give those; a missing one would leave a hole in the message.
func templateFields(t *template.Template) []string {
	found := map[string]bool{}
	if t != nil {
		for _, tt := range t.Templates() {
			if tt.Tree != nil {
				walkFields(tt.Tree.Root, map[string]bool{}, found)
			}
		}
	}
	out := make([]string, 0, len(found))
	for f := range found {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func walkFields(node parse.Node, guarded, found map[string]bool) {
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkFields(c, guarded, found)
		}
	case *parse.ActionNode:
		for _, f := range pipeFields(n.Pipe) {
			if !guarded[f] {
				found[f] = true
			}
		}
	case *parse.IfNode:
		walkBranch(&n.BranchNode, guarded, found)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, guarded, found)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, guarded, found)
	}
}

// walkBranch: the fields a branch tests are guarded in its body, not in its else.
func walkBranch(b *parse.BranchNode, guarded, found map[string]bool) {
	inner := map[string]bool{}
	for f := range guarded {
		inner[f] = true
	}
	for _, f := range pipeFields(b.Pipe) {
		inner[f] = true
	}
	walkFields(b.List, inner, found)
	walkFields(b.ElseList, guarded, found)
}

// pipeFields are the top-level fields (.X) a pipeline names.
func pipeFields(p *parse.PipeNode) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			switch a := arg.(type) {
			case *parse.FieldNode:
				out = append(out, a.Ident[0])
			case *parse.PipeNode:
				out = append(out, pipeFields(a)...)
			}
		}
	}
	return out
}
