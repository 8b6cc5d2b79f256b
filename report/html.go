package report

import (
	"bytes"
	"html/template"
	"path/filepath"
	"regexp"

	"github.com/goebm/goebm/framework"
)

// Document is a self-contained HTML report, written beside the plots/ folder that holds its
// figures' files (linked from their captions): every figure's SVG is inline and nothing is
// loaded from elsewhere (no scripts, fonts, styles or images from the network; its one inline
// script only marks the size each figure and table was drawn at), so the file can be mailed,
// archived or opened offline.
type Document struct {
	Title, Subtitle string
	Sections        []Section
	// Sources are files shown verbatim (the study file, the base run file, a run's
	// config.toml).
	Sources []Source
	// Provenance are name–value rows: version, commit, host, times.
	Provenance [][2]string
}

// Section is a heading with text, tables and figures.
type Section struct {
	Heading string
	Text    string
	Tables  []Table
	Figures []*Written
}

// Table is a table with a caption and a header row.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Source is a file shown in the report.
type Source struct {
	Name, Text string
}

// xmlHeader matches the XML declaration and doctype an SVG file starts with, which HTML
// does not take inline.
var xmlHeader = regexp.MustCompile(`(?s)^\s*(<\?xml.*?\?>\s*)?(<!DOCTYPE.*?>\s*)?`)

// inline returns a figure's SVG as HTML to put in the page.
func inline(w *Written) template.HTML {
	return template.HTML(xmlHeader.ReplaceAll(w.SVG, nil)) // goebm drew it: trusted
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{"inline": inline, "base": filepath.Base}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="goebm">
<title>{{.Title}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.subtitle { color: #555; margin-top: 0; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
caption { text-align: left; color: #444; padding-bottom: 0.4em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; }
figcaption a { margin-right: 0.6em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
dl.prov { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.prov dt { color: #555; }
dl.prov dd { margin: 0; font-family: monospace; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{with .Subtitle}}<p class="subtitle">{{.}}</p>{{end}}
{{range .Sections}}<section>
<h2>{{.Heading}}</h2>
{{with .Text}}<p>{{.}}</p>{{end}}
{{range .Tables}}<table class="report-table">
{{with .Caption}}<caption>{{.}}</caption>{{end}}
<thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}{{range .Figures}}<figure class="report-figure" id="fig-{{.Name}}">
{{inline .}}
<figcaption>{{.Caption}} Files: {{range $f, $p := .Files}}<a href="plots/{{base $p}}">{{$f}}</a>{{end}}</figcaption>
</figure>
{{end}}</section>
{{end}}{{if .Sources}}<section>
<h2>Sources</h2>
{{range .Sources}}<h3>{{.Name}}</h3>
<pre>{{.Text}}</pre>
{{end}}</section>
{{end}}{{if .Provenance}}<section>
<h2>Provenance</h2>
<dl class="prov">{{range .Provenance}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>
</section>
{{end}}<script>
// Marks each figure and table with the size it was drawn at (data-drawn) and each figure's
// SVG with the size of its drawing (data-bbox), for tests that render the page in a browser.
document.querySelectorAll("figure.report-figure, table.report-table").forEach(function (e) {
  var r = e.getBoundingClientRect();
  e.setAttribute("data-drawn", Math.round(r.width) + "x" + Math.round(r.height));
  var s = e.querySelector("svg");
  if (s) {
    var b = s.getBBox();
    s.setAttribute("data-bbox", Math.round(b.width) + "x" + Math.round(b.height));
  }
});
</script>
</body>
</html>
`))

// HTML returns the document as one HTML page.
func (d *Document) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes the page to path, atomically.
func (d *Document) Write(path string) error {
	b, err := d.HTML()
	if err != nil {
		return err
	}
	return framework.WriteFileAtomic(path, b)
}
