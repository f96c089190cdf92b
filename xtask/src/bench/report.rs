//! Results: the table on stdout and the JSON document.

use serde_json::{json, Value};

use super::measure::{round3, Stats};

pub enum Outcome {
    Measured {
        stats: Stats,
        /// Median over the pairs of runs of this runtime's wall time over
        /// tinydocker's (the case's first row); None for tinydocker.
        ratio: Option<f64>,
    },
    /// It ran and failed (crun on a hybrid host): why.
    Failed(String),
    /// Not installed: what to install.
    Missing(String),
}

pub struct Row {
    /// For the fleet: which step.
    pub step: Option<String>,
    /// tinydocker, runc, crun, podman.
    pub runtime: &'static str,
    /// What the table shows, e.g. "runc 1.1.5" or "tinydocker, seccomp=unconfined".
    pub label: String,
    /// What was timed.
    pub command: String,
    pub outcome: Outcome,
}

impl Row {
    pub fn stats(&self) -> Option<&Stats> {
        match &self.outcome {
            Outcome::Measured { stats, .. } => Some(stats),
            _ => None,
        }
    }

    pub fn json(&self) -> Value {
        let mut v = json!({
            "runtime": self.runtime,
            "label": self.label,
            "command": self.command,
        });
        if let Some(step) = &self.step {
            v["step"] = json!(step);
        }
        match &self.outcome {
            Outcome::Measured { stats, ratio } => {
                v["stats"] = stats.json();
                v["ratio_to_tinydocker"] = json!(ratio.map(round3));
            }
            Outcome::Failed(why) => v["failed"] = json!(why),
            Outcome::Missing(why) => v["missing"] = json!(why),
        }
        v
    }
}

pub struct CaseReport {
    pub name: &'static str,
    pub number: u8,
    pub title: String,
    pub rows: Vec<Row>,
    /// Lines printed under the table (and kept in the JSON).
    pub notes: Vec<String>,
    /// Case-specific figures for the JSON (the fleet's memory and leftovers).
    pub extra: Value,
}

impl CaseReport {
    pub fn print(&self) {
        println!();
        println!("case {} {}: {}", self.number, self.name, self.title);
        let fleet = self.rows.iter().any(|r| r.step.is_some());
        let mut header = vec![];
        if fleet {
            header.push("step");
        }
        header.extend([
            "runtime",
            "median ms",
            "min ms",
            "max ms",
            "cpu ms",
            "peak RSS KiB",
            "x tinydocker",
        ]);
        let mut table = Vec::new();
        for row in &self.rows {
            let mut cells = Vec::new();
            if fleet {
                cells.push(row.step.clone().unwrap_or_default());
            }
            cells.push(row.label.clone());
            match &row.outcome {
                Outcome::Measured { stats, ratio } => {
                    cells.push(format!("{:.2}", stats.median_ms));
                    cells.push(format!("{:.2}", stats.min_ms));
                    cells.push(format!("{:.2}", stats.max_ms));
                    cells.push(format!("{:.2}", stats.cpu_median_ms));
                    cells.push(stats.peak_rss_kib.map_or("-".into(), |k| k.to_string()));
                    cells.push(ratio.map_or(String::new(), |r| format!("{r:.2}x")));
                }
                Outcome::Failed(why) => cells.push(format!("failed: {why}")),
                Outcome::Missing(why) => cells.push(format!("not run: {why}")),
            }
            table.push(cells);
        }
        print_table(&header, &table);
        for note in &self.notes {
            println!("  {note}");
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "case": self.name,
            "number": self.number,
            "title": self.title,
            "rows": self.rows.iter().map(Row::json).collect::<Vec<_>>(),
            "notes": self.notes,
            "extra": self.extra,
        })
    }
}

/// Columns padded to their widest cell, numbers right-aligned; a cell that
/// says why a row was not measured runs on over the numeric columns.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        // Only full rows set the widths of the numeric columns.
        if row.len() == header.len() {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        } else if let Some(first) = row.first() {
            widths[0] = widths[0].max(first.chars().count());
        }
    }
    let text_columns = header.len() - 6;
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let pad = w.saturating_sub(cell.chars().count());
            if i < text_columns || cells.len() != header.len() {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad + 2));
                }
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
                out.push_str("  ");
            }
        }
        println!("{}", out.trim_end());
    };
    line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for row in rows {
        line(row);
    }
}
