package main

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writeSweepPlot draws a sweep as one PNG: each setting a point at its
// attempts per task (x) and slot utilisation (y), labelled; the frontier's
// points joined by a line, the others grey, the recommended one ringed.
func writeSweepPlot(out io.Writer, doc sweepReport) error {
	p := newPanel("Sweep of "+doc.Policy, "attempts per accepted task", "slot utilisation (%)")
	var front, rest, rec plotter.XYs
	labels := plotter.XYLabels{}
	for _, row := range doc.Settings {
		xy := plotter.XY{X: row.Result.AttemptsPerAcc, Y: 100 * row.Result.Utilization}
		if row.Frontier {
			front = append(front, xy)
		} else {
			rest = append(rest, xy)
		}
		if row.Setting == doc.Recommended {
			rec = append(rec, xy)
		}
		labels.XYs = append(labels.XYs, xy)
		labels.Labels = append(labels.Labels, row.Setting)
	}
	slices.SortFunc(front, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	if err := addSweepPoints(p, front, rest, rec, labels); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	// Room on the right for the labels, and at the top for the legend.
	dx, dy := p.X.Max-p.X.Min, p.Y.Max-p.Y.Min
	p.X.Min, p.X.Max = p.X.Min-0.03*dx, p.X.Max+0.2*dx
	p.Y.Min, p.Y.Max = p.Y.Min-0.05*dy, p.Y.Max+0.3*dy
	p.Legend.Top, p.Legend.Left = true, true
	img := vgimg.New(vg.Points(700), vg.Points(450))
	p.Draw(draw.New(img))
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// addSweepPoints adds the frontier (line and points), the dominated points,
// the recommended ring and the labels to p.
func addSweepPoints(p *plot.Plot, front, rest, rec plotter.XYs, labels plotter.XYLabels) error {
	if len(front) > 0 {
		l, pts, err := plotter.NewLinePoints(front)
		if err != nil {
			return err
		}
		l.LineStyle = draw.LineStyle{Color: palette[4], Width: vg.Points(1.5)}
		pts.Shape, pts.Color = draw.CircleGlyph{}, palette[4]
		p.Add(l, pts)
		p.Legend.Add("on the frontier", l, pts)
	}
	if len(rest) > 0 {
		s, err := plotter.NewScatter(rest)
		if err != nil {
			return err
		}
		s.Shape, s.Color = draw.CircleGlyph{}, color.Gray{Y: 150}
		p.Add(s)
		p.Legend.Add("dominated", s)
	}
	if len(rec) > 0 {
		s, err := plotter.NewScatter(rec)
		if err != nil {
			return err
		}
		s.Shape, s.Color, s.Radius = draw.RingGlyph{}, palette[3], vg.Points(7)
		p.Add(s)
		p.Legend.Add("recommended", s)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign, l.Offset = draw.XLeft, vg.Point{X: vg.Points(6), Y: vg.Points(2)}
	}
	p.Add(l)
	return nil
}
