package main

import (
	"fmt"
	"image/color"
	"io"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// palette is Okabe and Ito's eight colours, told apart also by readers
// with colour-blindness; black is kept for the ban line.
var palette = []color.Color{
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{240, 228, 66, 255},  // yellow
}

// writePlot draws two panels as one PNG: on the left, the time to
// acceptance of the accepted tasks as a CDF per policy; on the right, the
// NO_SLOT answers in the minute before each moment (the count the
// provider's ERROR: 1001 watches) against the ban line.
func writePlot(out io.Writer, w workload, results []result) error {
	cdf := newPanel("Time to acceptance", "seconds from a task's first submit (provider time)", "share of accepted tasks")
	cdf.Y.Min, cdf.Y.Max = 0, 1
	cdf.Legend.Top, cdf.Legend.Left = false, false // bottom right, under the curves' tops
	ns := newPanel("NO_SLOT answers per rolling minute", "minutes (provider time)", "NO_SLOT answers in the last minute")
	ns.Legend.Top = true // above the ban line: addBanLine leaves room
	for i, r := range results {
		// One style per policy, the same in both panels.
		style := draw.LineStyle{Color: palette[i%len(palette)], Width: vg.Points(1.5), Dashes: plotutil.Dashes(i / len(palette))}
		if err := addLatencyCDF(cdf, r, style); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		if err := addRollingNoSlot(ns, r, style); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	if err := addBanLine(ns, w.Duration); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := drawSideBySide(out, cdf, ns); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// newPanel is an empty panel with its title, axis labels and grid.
func newPanel(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	return p
}

// addLatencyCDF adds r's time to acceptance to p as a step CDF from 0; a
// policy that had no task accepted gets no line.
func addLatencyCDF(p *plot.Plot, r result, style draw.LineStyle) error {
	if len(r.latency) == 0 {
		return nil
	}
	xys := make(plotter.XYs, 0, len(r.latency)+1)
	xys = append(xys, plotter.XY{X: 0, Y: 0})
	for j, d := range r.latency {
		xys = append(xys, plotter.XY{X: d.Seconds(), Y: float64(j+1) / float64(len(r.latency))})
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.LineStyle = style
	l.StepStyle = plotter.PostStep
	p.Add(l)
	p.Legend.Add(r.Policy, l)
	return nil
}

// addRollingNoSlot adds r's NO_SLOT answers per rolling minute to p.
func addRollingNoSlot(p *plot.Plot, r result, style draw.LineStyle) error {
	if len(r.rolling) == 0 {
		return nil
	}
	xys := make(plotter.XYs, len(r.rolling))
	for j, pt := range r.rolling {
		xys[j] = plotter.XY{X: pt.at.Minutes(), Y: float64(pt.n)}
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.LineStyle = style
	p.Add(l)
	p.Legend.Add(r.Policy, l)
	return nil
}

// addBanLine draws the provider's ban line across p, for the run's length,
// after the policies' lines: it sets the Y range from theirs.
func addBanLine(p *plot.Plot, d time.Duration) error {
	ban, err := plotter.NewLine(plotter.XYs{{X: 0, Y: banLine}, {X: d.Minutes(), Y: banLine}})
	if err != nil {
		return err
	}
	ban.LineStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	// Room above the ban line for the legend and for a policy that crosses it.
	p.Y.Min = 0
	p.Y.Max = max(p.Y.Max, 1.5*banLine)
	p.Add(ban)
	p.Legend.Add(fmt.Sprintf("ban line (%d: ERROR: 1001)", banLine), ban)
	return nil
}

// drawSideBySide draws left and right as one PNG, with aligned axes.
func drawSideBySide(out io.Writer, left, right *plot.Plot) error {
	img := vgimg.New(vg.Points(1100), vg.Points(450))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadY: vg.Points(10), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	cs := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(cs[0][0])
	right.Draw(cs[0][1])
	_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out)
	return err
}
