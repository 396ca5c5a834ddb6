// The campaign dashboard's charts (Chart.js, served from our static files).
// Every chart reads the JSON the server rendered next to it (#dashboard-data): the same rows
// its table shows, so a chart and its table cannot disagree. No fetch, no build step.
(() => {
  "use strict";
  const source = document.getElementById("dashboard-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const PALETTE = ["#2f6fed", "#f08c00", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599",
                   "#868e96", "#e8590c"];
  const colour = (i) => PALETTE[i % PALETTE.length];
  const faded = (hex) => `${hex}66`;

  Chart.defaults.animation = false; // a dashboard, not a show: draw once, at once
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  // Interval whiskers for bar datasets that carry `intervals: [[low, high] | null, ...]`.
  const whiskers = {
    id: "whiskers",
    afterDatasetsDraw(chart) {
      const { ctx, scales: { y } } = chart;
      chart.data.datasets.forEach((ds, i) => {
        const meta = chart.getDatasetMeta(i);
        if (!ds.intervals || meta.hidden) return;
        meta.data.forEach((bar, j) => {
          const iv = ds.intervals[j];
          if (!iv) return;
          const [top, bottom] = [y.getPixelForValue(iv[1]), y.getPixelForValue(iv[0])];
          const half = Math.min(6, bar.width / 3);
          ctx.save();
          ctx.strokeStyle = "#1d2330";
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
          ctx.moveTo(bar.x - half, top); ctx.lineTo(bar.x + half, top);
          ctx.moveTo(bar.x - half, bottom); ctx.lineTo(bar.x + half, bottom);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }

  // Annotations over time, stacked by iteration.
  const activity = data.activity;
  draw("chart-activity", {
    type: "bar",
    data: {
      labels: activity.rows.map((r) => r.label),
      datasets: activity.iterations.map((it, i) => ({
        label: `Iteration ${it}`, data: activity.rows.map((r) => r.counts[i]),
        backgroundColor: colour(i),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true,
      title: { display: true, text: `answers per ${activity.unit}` }, ticks: { precision: 0 } } } },
  });

  // Each annotator: answers (bars, left axis) and median seconds per task (points, right).
  const people = data.annotators;
  draw("chart-annotators", {
    data: {
      labels: people.map((a) => a.name),
      datasets: [
        { type: "bar", label: "Answers", data: people.map((a) => a.annotations),
          backgroundColor: colour(0), yAxisID: "y" },
        { type: "line", label: "Median seconds per task", data: people.map((a) => a.median_seconds),
          borderColor: colour(1), backgroundColor: colour(1), showLine: false, pointRadius: 6,
          pointStyle: "rectRot", yAxisID: "y1" },
      ],
    },
    options: { scales: {
      y: { beginAtZero: true, title: { display: true, text: "answers" }, ticks: { precision: 0 } },
      y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
            title: { display: true, text: "median s / task" } },
    } },
  });

  // Agreement over time on overlapping tasks.
  const agreement = data.agreement;
  draw("chart-agreement", {
    type: "line",
    data: {
      labels: agreement.rows.map((r) => r.label),
      datasets: [
        { label: "Jaccard", data: agreement.rows.map((r) => r.jaccard), borderColor: colour(0),
          backgroundColor: colour(0) },
        { label: "Krippendorff's α", data: agreement.rows.map((r) => r.alpha),
          borderColor: colour(1), backgroundColor: colour(1) },
        { label: "α so far", data: agreement.rows.map((r) => r.alpha_so_far),
          borderColor: colour(6), backgroundColor: colour(6), borderDash: [5, 4] },
      ],
    },
    options: { spanGaps: true, scales: { y: { suggestedMin: 0, suggestedMax: 1 } } },
  });

  // Pairs per rule and rejected negatives per condition, for each build.
  const pairs = data.pairs;
  draw("chart-pairs", {
    type: "bar",
    data: {
      labels: pairs.builds.map((b) => b.label),
      datasets: pairs.series.map(([key, label], i) => ({
        label, data: pairs.builds.map((b) => b[key]),
        backgroundColor: i < 2 ? colour(i) : faded(colour(i)),
        borderColor: colour(i), borderWidth: i < 2 ? 0 : 1,
      })),
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 },
                              title: { display: true, text: "pairs" } } } },
  });

  // GSE vs its base model and the surface baselines, per snapshot, with intervals.
  const models = data.models;
  const scorers = [];
  for (const m of models) {
    for (const s of m.scorers) if (!scorers.some((x) => x.key === s.key)) scorers.push(s);
  }
  function metricChart(id, metric, title) {
    draw(id, {
      type: "bar",
      data: {
        labels: models.map((m) => m.label),
        datasets: scorers.map((sc, i) => {
          const rows = models.map((m) => m.scorers.find((s) => s.key === sc.key) || {});
          return {
            label: sc.label, data: rows.map((r) => (r[metric] === undefined ? null : r[metric])),
            intervals: rows.map((r) => (r[`${metric}_low`] == null ? null
              : [r[`${metric}_low`], r[`${metric}_high`]])),
            backgroundColor: i === 0 ? colour(0) : faded(colour(i)), borderColor: colour(i),
            borderWidth: i === 0 ? 0 : 1,
          };
        }),
      },
      options: { plugins: { title: { display: true, text: title } },
                 scales: { y: { min: 0, max: 1 } } },
      plugins: [whiskers],
    });
  }
  metricChart("chart-models-auc", "auc", "ROC-AUC (0.5 = chance)");
  metricChart("chart-models-f1", "f1", "F1 at the validation threshold");
})();
