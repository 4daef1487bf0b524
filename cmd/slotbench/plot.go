package main

import (
	"fmt"
	"image/color"
	"io"

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
	cdf := plot.New()
	cdf.Title.Text = "Time to acceptance"
	cdf.X.Label.Text = "seconds from a task's first submit (provider time)"
	cdf.Y.Label.Text = "share of accepted tasks"
	cdf.Y.Min, cdf.Y.Max = 0, 1
	cdf.Legend.Top = false
	cdf.Legend.Left = false
	cdf.Add(plotter.NewGrid())

	ns := plot.New()
	ns.Title.Text = "NO_SLOT answers per rolling minute"
	ns.X.Label.Text = "minutes (provider time)"
	ns.Y.Label.Text = "NO_SLOT answers in the last minute"
	ns.Legend.Top = true
	ns.Add(plotter.NewGrid())

	for i, r := range results {
		style := draw.LineStyle{Color: palette[i%len(palette)], Width: vg.Points(1.5), Dashes: plotutil.Dashes(i / len(palette))}
		if len(r.latency) > 0 {
			xys := make(plotter.XYs, 0, len(r.latency)+1)
			xys = append(xys, plotter.XY{X: 0, Y: 0})
			for j, d := range r.latency {
				xys = append(xys, plotter.XY{X: d.Seconds(), Y: float64(j+1) / float64(len(r.latency))})
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			l.LineStyle = style
			l.StepStyle = plotter.PostStep
			cdf.Add(l)
			cdf.Legend.Add(r.Policy, l)
		}
		xys := make(plotter.XYs, len(r.rolling))
		for j, p := range r.rolling {
			xys[j] = plotter.XY{X: p.at.Minutes(), Y: float64(p.n)}
		}
		if len(xys) > 0 {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			l.LineStyle = style
			ns.Add(l)
			ns.Legend.Add(r.Policy, l)
		}
	}
	ban, err := plotter.NewLine(plotter.XYs{{X: 0, Y: banLine}, {X: w.Duration.Minutes(), Y: banLine}})
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	ban.LineStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	// Room above the ban line for the legend and for a policy that crosses it.
	ns.Y.Min = 0
	ns.Y.Max = max(ns.Y.Max, 1.5*banLine)
	ns.Add(ban)
	ns.Legend.Add(fmt.Sprintf("ban line (%d: ERROR: 1001)", banLine), ban)

	img := vgimg.New(vg.Points(1100), vg.Points(450))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadY: vg.Points(10), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	plots := [][]*plot.Plot{{cdf, ns}}
	cs := plot.Align(plots, tiles, dc)
	cdf.Draw(cs[0][0])
	ns.Draw(cs[0][1])
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
