//! The `voc` command: classify, train and evaluate.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use voc::{ClassWeights, Classifier, Example, HashList, ReadOptions, TrainConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where `voc train` looks for the evaluation hash list when none is given.
const DEFAULT_EVAL_HASHES: &str = "../shared/gold/eval-hashes.txt";

#[derive(Parser)]
#[command(name = "voc", version, about = "Sentiment and complaint tags from customer feedback")]
struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify a comment (or one comment per line of stdin) and print JSON.
    Classify {
        /// The comment; without it, read one comment per line from stdin.
        text: Option<OsString>,
        /// Model folder (default: the embedded model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
        /// Print only the labels and probabilities (no sentences, no
        /// evidence): several times faster.
        #[arg(long)]
        scores: bool,
    },
    /// Train a model on labeled JSONL/CSV files and write a model folder.
    Train(Box<TrainArgs>),
    /// Score a model on a labeled file.
    Eval {
        /// Labeled file(s) (JSONL, CSV or TSV).
        #[arg(long, required = true)]
        data: Vec<PathBuf>,
        /// Model folder (default: the embedded model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Also give the figures for each source (the JSONL `source` field;
        /// rows without one count as "unknown"); in JSON, under `by_source`.
        #[arg(long)]
        by_source: bool,
        #[command(flatten)]
        columns: Columns,
    },
    /// Score CSV/TSV/JSONL files (plain or .gz, or - for stdin) into one JSONL or CSV file.
    Score(Box<ScoreArgs>),
    /// Summarize a scored file: an HTML report with charts, and a text summary on stdout.
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct Columns {
    /// Text column (CSV/TSV) or field (JSONL).
    #[arg(long, default_value = "text")]
    text_column: String,
    /// Sentiment column or field.
    #[arg(long, default_value = "sentiment")]
    sentiment_column: String,
    /// Tags column (CSV: tags separated by `;`) or field (JSONL: a list).
    #[arg(long, default_value = "tags")]
    tags_column: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Weights {
    None,
    Balanced,
    Sqrt,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Labeled file(s): JSONL, CSV or TSV. Repeatable.
    #[arg(long, required = true)]
    data: Vec<PathBuf>,
    /// Output model folder.
    #[arg(long)]
    out: PathBuf,
    /// Warm start from a model folder, or `default` for the embedded model.
    #[arg(long)]
    from: Option<String>,
    /// Train from scratch on this tokenizer.json (with --embeddings).
    #[arg(long, requires = "embeddings")]
    tokenizer: Option<PathBuf>,
    /// Pretrained token embeddings (safetensors with `embeddings` [vocab, dim]).
    #[arg(long, requires = "tokenizer")]
    embeddings: Option<PathBuf>,
    /// Tag names to learn, comma separated (default: from the data).
    #[arg(long, value_delimiter = ',')]
    tags: Option<Vec<String>>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    learning_rate: Option<f64>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    hidden_dim: Option<usize>,
    #[arg(long)]
    dropout: Option<f32>,
    /// Share of tokens dropped from each training bag (default 0.1).
    #[arg(long)]
    token_dropout: Option<f32>,
    /// AdamW weight decay of the dense layers (default 0.0001).
    #[arg(long)]
    weight_decay: Option<f64>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    validation_split: Option<f32>,
    #[arg(long, value_enum)]
    class_weights: Option<Weights>,
    /// Fine-tune the token embedding table too (sparse row updates; the
    /// default model is built this way).
    #[arg(long)]
    train_embeddings: bool,
    /// Also try the mean of the weights of the last N epochs (stochastic
    /// weight averaging), kept when it validates better (0: off).
    #[arg(long, default_value_t = 0)]
    average_last: usize,
    /// Weight of a row's soft (teacher) tag targets in the tag loss, against
    /// 1 for a row with hard tags.
    #[arg(long, default_value_t = 1.0)]
    soft_tag_weight: f32,
    /// Distillation temperature of the soft (teacher) sentiment targets:
    /// each becomes p^(1/T), renormalized (above 1: softer).
    #[arg(long, default_value_t = 1.0)]
    soft_temperature: f32,
    /// Weight in both losses of a row marked `"confidence": "low"`
    /// (ambiguous under the labeling guide), against 1 for the others.
    #[arg(long, default_value_t = 1.0)]
    low_confidence_weight: f32,
    /// Scope kinds to pool separately, comma separated: negation, contrast
    /// (default: the --from model's; none when training from scratch).
    #[arg(long, value_delimiter = ',')]
    scopes: Option<Vec<String>>,
    /// Rank of the low-rank part of each scope matrix (default 0: diagonal
    /// only; a warm start keeping the base's scopes keeps its rank).
    #[arg(long)]
    scope_rank: Option<usize>,
    /// Evaluation hash list whose texts are removed before training
    /// (default: ../shared/gold/eval-hashes.txt when it exists).
    #[arg(long)]
    exclude_hashes: Option<PathBuf>,
    /// Markdown placed at the top of the model card (sources, licences).
    #[arg(long)]
    card_notes: Option<PathBuf>,
    /// Title of the model card.
    #[arg(long, default_value = "voc model")]
    name: String,
    /// Replace an existing output folder.
    #[arg(long)]
    force: bool,
    /// Write the training report as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    columns: Columns,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global() {
            eprintln!("voc: cannot set threads: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Classify { text, model, pretty, scores } => classify(text, model.as_deref(), pretty, scores),
        Command::Train(args) => train(*args).map(|()| ExitCode::SUCCESS),
        Command::Eval { data, model, json, by_source, columns } => {
            eval(&data, model.as_deref(), json, by_source, &columns).map(|()| ExitCode::SUCCESS)
        }
        Command::Score(args) => score(*args),
        Command::Report(args) => report(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("voc: error: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                eprintln!("  caused by: {s}");
                src = s.source();
            }
            ExitCode::from(2)
        }
    }
}

fn load(model: Option<&Path>) -> voc::Result<Classifier> {
    match model {
        Some(dir) => Classifier::from_dir(dir),
        None => embedded(),
    }
}

/// The embedded default model (absent when built without the
/// `embedded-model` feature).
fn embedded() -> voc::Result<Classifier> {
    #[cfg(feature = "embedded-model")]
    {
        Classifier::embedded()
    }
    #[cfg(not(feature = "embedded-model"))]
    {
        Err(voc::Error::Config {
            field: "model".into(),
            message: "this voc was built without the embedded model; pass --model DIR".into(),
        })
    }
}

fn to_json<T: serde::Serialize>(p: &T, pretty: bool) -> String {
    let r = if pretty { serde_json::to_string_pretty(p) } else { serde_json::to_string(p) };
    r.unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize: {e}\"}}"))
}

fn classify(text: Option<OsString>, model: Option<&Path>, pretty: bool, scores: bool) -> voc::Result<ExitCode> {
    let clf = load(model)?;
    // The JSON line of each text: the full prediction, or the scores only.
    // Each text is classified and rendered in one parallel step, so a chunk
    // of full predictions is never held at once.
    let render = |texts: &[&str]| -> voc::Result<Vec<String>> {
        use rayon::prelude::*;
        let labels = clf.labels();
        texts
            .par_iter()
            .map(|t| match scores {
                true => clf.scores(t).map(|s| to_json(&scores_json(&s, labels), pretty)),
                false => clf.classify(t).map(|p| to_json(&p, pretty)),
            })
            .collect()
    };
    if let Some(text) = text {
        let Some(text) = text.to_str() else {
            eprintln!("voc: error: the text argument is not valid UTF-8");
            return Ok(ExitCode::from(1));
        };
        // Not println!: it panics when stdout fails (a full disk, a closed pipe).
        let json = render(&[text])?.concat();
        write_stdout(format!("{json}\n").as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    // One comment per line of stdin, classified in parallel chunks, printed in order.
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io_err = |e| voc::Error::Io { path: "-".into(), source: e };
    let mut bad_lines = 0u64;
    let mut line_no = 0u64;
    let mut eof = false;
    while !eof {
        let mut chunk: Vec<Result<String, String>> = Vec::with_capacity(4096);
        while chunk.len() < 4096 {
            let mut buf = Vec::new();
            // Keep a few bytes past the input limit (so the prediction still
            // says `truncated`), not the whole line: one huge line cannot
            // exhaust memory. Bytes past that are not looked at.
            let keep = clf.max_input_bytes().saturating_add(4);
            let Some(cut) = read_line_capped(&mut reader, &mut buf, keep).map_err(io_err)? else {
                eof = true;
                break;
            };
            line_no += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            chunk.push(String::from_utf8(buf).or_else(|e| {
                let (valid, incomplete_end) = (e.utf8_error().valid_up_to(), e.utf8_error().error_len().is_none());
                if cut && incomplete_end {
                    // The cut split a character: drop its first bytes.
                    Ok(String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned())
                } else {
                    Err(format!("stdin line {line_no}: invalid UTF-8 at byte {valid}"))
                }
            }));
        }
        let first_line = line_no + 1 - chunk.len() as u64;
        let texts: Vec<&str> = chunk.iter().map(|r| r.as_deref().unwrap_or("")).collect();
        let lines = render(&texts)?;
        for (i, (r, json)) in chunk.iter().zip(lines).enumerate() {
            match r {
                Ok(_) => writeln!(out, "{json}").map_err(io_err)?,
                Err(msg) => {
                    bad_lines += 1;
                    eprintln!("voc: error: {msg}");
                    let line = first_line + i as u64;
                    let obj = serde_json::json!({"line": line, "error": msg});
                    writeln!(out, "{obj}").map_err(io_err)?;
                }
            }
        }
    }
    out.flush().map_err(io_err)?;
    if bad_lines > 0 {
        eprintln!("voc: {bad_lines} line(s) were not valid UTF-8 (see the error objects in the output)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `voc classify --scores` output: labels by name.
#[derive(serde::Serialize)]
struct ScoresJson<'a> {
    sentiment: &'a str,
    sentiment_score: f32,
    sentiment_probabilities: std::collections::BTreeMap<&'a str, f32>,
    tags: Vec<&'a str>,
    tag_probabilities: std::collections::BTreeMap<&'a str, f32>,
    truncated: bool,
}

fn scores_json<'a>(s: &voc::Scores, labels: &'a voc::Labels) -> ScoresJson<'a> {
    let named =
        |names: &'a [String], values: &[f32]| names.iter().map(String::as_str).zip(values.iter().copied()).collect();
    ScoresJson {
        sentiment: &labels.sentiment()[s.sentiment],
        sentiment_score: s.sentiment_score,
        sentiment_probabilities: named(labels.sentiment(), &s.sentiment_probabilities),
        tags: s.tags.iter().map(|&k| labels.tags()[k].as_str()).collect(),
        tag_probabilities: named(labels.tags(), &s.tag_probabilities),
        truncated: s.truncated,
    }
}

/// Read one line (with its `\n`, if any) into `buf`, keeping at most `keep`
/// bytes and reading past the rest. Returns whether the line was cut, or
/// `None` at the end of input.
fn read_line_capped(reader: &mut impl BufRead, buf: &mut Vec<u8>, keep: usize) -> std::io::Result<Option<bool>> {
    let mut read_any = false;
    let mut cut = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(read_any.then_some(cut));
        }
        read_any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = keep.saturating_sub(buf.len()).min(take);
        cut |= room < take;
        buf.extend_from_slice(&chunk[..room]);
        reader.consume(take);
        if done {
            return Ok(Some(cut));
        }
    }
}

fn read_all(paths: &[PathBuf], opts: &ReadOptions) -> voc::Result<Vec<Example>> {
    let mut all = Vec::new();
    for p in paths {
        all.extend(voc::read_examples(p, opts)?);
    }
    Ok(all)
}

fn read_options(c: &Columns) -> ReadOptions {
    ReadOptions::default()
        .text_column(c.text_column.clone())
        .sentiment_column(c.sentiment_column.clone())
        .tags_column(c.tags_column.clone())
}

fn train(a: TrainArgs) -> voc::Result<()> {
    let mut cfg = TrainConfig::default();
    if let Some(v) = a.epochs {
        cfg = cfg.epochs(v);
    }
    if let Some(v) = a.learning_rate {
        cfg = cfg.learning_rate(v);
    }
    if let Some(v) = a.batch_size {
        cfg = cfg.batch_size(v);
    }
    if let Some(v) = a.hidden_dim {
        cfg = cfg.hidden_dim(v);
    }
    if let Some(v) = a.dropout {
        cfg = cfg.dropout(v);
    }
    if let Some(v) = a.token_dropout {
        cfg = cfg.token_dropout(v);
    }
    if let Some(v) = a.weight_decay {
        cfg = cfg.weight_decay(v);
    }
    if let Some(v) = a.seed {
        cfg = cfg.seed(v);
    }
    if let Some(v) = a.validation_split {
        cfg = cfg.validation_split(v);
    }
    if let Some(w) = a.class_weights {
        cfg = cfg.class_weights(match w {
            Weights::None => ClassWeights::None,
            Weights::Balanced => ClassWeights::Balanced,
            Weights::Sqrt => ClassWeights::Sqrt,
        });
    }
    if let Some(t) = &a.tags {
        cfg = cfg.tags(t.clone());
    }
    if let Some(k) = &a.scopes {
        cfg = cfg.scopes(k.clone());
    }
    if let Some(r) = a.scope_rank {
        cfg = cfg.scope_rank(r);
    }
    cfg = cfg.train_embeddings(a.train_embeddings).average_last(a.average_last).soft_tag_weight(a.soft_tag_weight);
    cfg = cfg.soft_temperature(a.soft_temperature);
    cfg = cfg.low_confidence_weight(a.low_confidence_weight);
    // Validate everything before any work.
    cfg.validate()?;
    if a.out.exists() && !a.force {
        return Err(voc::Error::Io {
            path: a.out.clone(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "output exists (use --force to replace it)"),
        });
    }
    let read_file = |p: &Path| std::fs::read(p).map_err(|e| voc::Error::Io { path: p.to_path_buf(), source: e });
    let base = match (&a.tokenizer, &a.embeddings, a.from.as_deref()) {
        (Some(t), Some(e), _) => Classifier::untrained(&read_file(t)?, &read_file(e)?)?,
        (_, _, Some("default")) => {
            cfg = cfg.warm_start(true);
            embedded()?
        }
        (_, _, Some(dir)) => {
            cfg = cfg.warm_start(true);
            Classifier::from_dir(dir)?
        }
        _ => embedded()?,
    };
    let mut opts = read_options(&a.columns).sentiment_classes(base.labels().sentiment().to_vec());
    if let Some(t) = &a.tags {
        opts = opts.tags(t.clone());
    }
    let examples = read_all(&a.data, &opts)?;
    let exclude = match &a.exclude_hashes {
        Some(p) => HashList::read(p)?,
        None if Path::new(DEFAULT_EVAL_HASHES).exists() => HashList::read(DEFAULT_EVAL_HASHES)?,
        None => {
            eprintln!("voc: warning: no evaluation hash list ({DEFAULT_EVAL_HASHES} not found, no --exclude-hashes)");
            HashList::default()
        }
    };
    eprintln!(
        "voc: training on {} examples from {} file(s); excluding {} evaluation hashes",
        examples.len(),
        a.data.len(),
        exclude.len()
    );
    let (clf, report) = voc::train(&base, &examples, &cfg, &exclude, |e| {
        let f = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
        eprintln!(
            "epoch {:>3}/{}  loss {:.4}  val sentiment-F1 {}  tags-F1 {}  {:.0}s elapsed, ~{:.0}s left",
            e.epoch,
            cfg.epochs,
            e.train_loss,
            f(e.val_sentiment_macro_f1),
            f(e.val_tags_macro_f1),
            e.elapsed_secs,
            e.eta_secs
        );
    })?;
    eprintln!(
        "voc: removed {} example(s) found in the evaluation hash list; {}",
        report.removed_eval_overlap,
        report.kept()
    );
    let notes = match &a.card_notes {
        Some(p) => std::fs::read_to_string(p).map_err(|e| voc::Error::Io { path: p.clone(), source: e })?,
        None => String::new(),
    };
    let mut card = report.model_card(&a.name, &notes);
    card.push_str(&format!(
        "\nTraining data files: {}\n",
        a.data.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", ")
    ));
    clf.save(&a.out, &card, a.force)?;
    if let Some(p) = &a.report {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| voc::Error::Io { path: p.clone(), source: std::io::Error::other(e) })?;
        std::fs::write(p, json).map_err(|e| voc::Error::Io { path: p.clone(), source: e })?;
    }
    eprintln!("voc: wrote {}", a.out.display());
    Ok(())
}

fn eval(data: &[PathBuf], model: Option<&Path>, json: bool, by_source: bool, columns: &Columns) -> voc::Result<()> {
    let clf = load(model)?;
    let opts = read_options(columns).sentiment_classes(clf.labels().sentiment().to_vec());
    let examples = read_all(data, &opts)?;
    let text = if by_source {
        let report = voc::evaluate_by_source(&clf, &examples)?;
        if json { format!("{}\n", serde_json::to_string(&report).unwrap_or_default()) } else { report.to_table() }
    } else {
        let report = voc::evaluate(&clf, &examples)?;
        if json { format!("{}\n", serde_json::to_string(&report).unwrap_or_default()) } else { report.to_table() }
    };
    write_stdout(text.as_bytes())
}

/// Write to stdout and flush, with a failure (a full disk, a closed pipe) as
/// an error rather than the panic of `print!`.
fn write_stdout(bytes: &[u8]) -> voc::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).map_err(|e| voc::Error::Io { path: "-".into(), source: e })
}

#[derive(Clone, Copy, ValueEnum)]
enum ScoreFormat {
    Jsonl,
    Csv,
}

#[derive(clap::Args)]
struct ScoreArgs {
    /// Input files: CSV, TSV or JSONL, plain or .gz; - reads stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (default: stdout, with bad rows on stderr).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format (default: csv for an output ending in .csv, else jsonl).
    #[arg(long, value_enum)]
    format: Option<ScoreFormat>,
    /// Text column or field (default: guessed: text, comment, feedback, review, ...).
    #[arg(long)]
    text_column: Option<String>,
    /// Id column or field (default: the row number).
    #[arg(long)]
    id_column: Option<String>,
    /// Input columns to copy to the output, comma separated.
    #[arg(long, value_delimiter = ',')]
    keep_columns: Vec<String>,
    /// Do not copy the text to the output.
    #[arg(long)]
    no_text: bool,
    /// Model folder (default: the embedded model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Continue an interrupted run from its checkpoint (OUTPUT.partial.state).
    #[arg(long)]
    resume: bool,
    /// Replace an existing output (and drop an interrupted run's checkpoint).
    #[arg(long)]
    force: bool,
    /// Rows per chunk (and per checkpoint).
    #[arg(long, default_value_t = voc::DEFAULT_CHUNK_ROWS)]
    chunk_rows: usize,
    /// Longest accepted row in bytes; longer rows go to the error file.
    #[arg(long, default_value_t = voc::DEFAULT_MAX_ROW_BYTES)]
    max_row_bytes: usize,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PeriodArg {
    Day,
    Week,
    Month,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// A file written by voc score (JSONL or CSV, plain or .gz).
    scored: PathBuf,
    /// The HTML report to write.
    #[arg(short, long, default_value = "report.html")]
    output: PathBuf,
    /// Show tags by the groups of this column (kept with voc score --keep-columns).
    #[arg(long)]
    by: Option<String>,
    /// Show trends over this date column (YYYY-MM-DD..., or Unix seconds).
    #[arg(long)]
    time: Option<String>,
    /// Time bucket of --time.
    #[arg(long, value_enum, default_value = "month", requires = "time")]
    period: PeriodArg,
}

fn score(a: ScoreArgs) -> voc::Result<ExitCode> {
    use std::io::IsTerminal;
    let clf = load(a.model.as_deref())?;
    let mut opts = voc::ScoreOptions::new(a.inputs)
        .keep_columns(a.keep_columns)
        .include_text(!a.no_text)
        .resume(a.resume)
        .force(a.force)
        .chunk_rows(a.chunk_rows)
        .max_row_bytes(a.max_row_bytes);
    if let Some(o) = a.output {
        opts = opts.output(o);
    }
    if let Some(f) = a.format {
        opts = opts.format(match f {
            ScoreFormat::Jsonl => voc::OutputFormat::Jsonl,
            ScoreFormat::Csv => voc::OutputFormat::Csv,
        });
    }
    if let Some(c) = a.text_column {
        opts = opts.text_column(c);
    }
    if let Some(c) = a.id_column {
        opts = opts.id_column(c);
    }
    // Without -o, bad rows go to stderr: no bar there.
    let mut bar = ProgressBar::new(!a.quiet && opts.output.is_some() && std::io::stderr().is_terminal());
    let summary = voc::score_file(&clf, &opts, |p| bar.update(p));
    bar.finish();
    let summary = summary?;
    eprintln!("voc: {}", summary.to_line());
    Ok(ExitCode::SUCCESS)
}

/// A one-line progress bar on stderr: rows, rows/s, share done and ETA.
struct ProgressBar {
    on: bool,
    drawn: bool,
    first: Option<(f64, u64, u64)>,
    last_draw: Option<std::time::Instant>,
}

impl ProgressBar {
    fn new(on: bool) -> Self {
        ProgressBar { on, drawn: false, first: None, last_draw: None }
    }

    fn update(&mut self, p: &voc::ScoreProgress) {
        if !self.on {
            return;
        }
        let (t0, rows0, bytes0) = *self.first.get_or_insert((p.seconds, p.rows_read, p.bytes_read));
        if self.last_draw.is_some_and(|t| t.elapsed().as_millis() < 200) {
            return;
        }
        self.last_draw = Some(std::time::Instant::now());
        let dt = (p.seconds - t0).max(1e-9);
        let rate = (p.rows_read - rows0) as f64 / dt;
        let mut line = format!("{} rows  {:.0} rows/s", p.rows_read, rate);
        if p.errors > 0 {
            line.push_str(&format!("  {} bad", p.errors));
        }
        if let Some(total) = p.bytes_total.filter(|&t| t > 0) {
            let done = (p.bytes_read as f64 / total as f64).min(1.0);
            let width = 24;
            let filled = (done * width as f64) as usize;
            line = format!("[{}{}] {:>3.0}%  {line}", "#".repeat(filled), "-".repeat(width - filled), 100.0 * done);
            let byte_rate = (p.bytes_read - bytes0) as f64 / dt;
            if byte_rate > 0.0 && p.bytes_read > bytes0 {
                let eta = (total.saturating_sub(p.bytes_read)) as f64 / byte_rate;
                line.push_str(&format!("  ETA {}:{:02}", (eta / 60.0) as u64, (eta % 60.0) as u64));
            }
        }
        eprint!("\r\x1b[K{line}");
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
        }
    }
}

fn report(a: ReportArgs) -> voc::Result<()> {
    let mut opts = voc::ReportOptions::default().period(match a.period {
        PeriodArg::Day => voc::Period::Day,
        PeriodArg::Week => voc::Period::Week,
        PeriodArg::Month => voc::Period::Month,
    });
    if let Some(c) = a.by {
        opts = opts.by(c);
    }
    if let Some(c) = a.time {
        opts = opts.time(c);
    }
    let rep = voc::FeedbackReport::from_file(&a.scored, &opts)?;
    // Written next to its place and renamed: never a half-written report.
    let mut tmp = a.output.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, rep.to_html()).map_err(|e| voc::Error::Io { path: tmp.clone(), source: e })?;
    std::fs::rename(&tmp, &a.output).map_err(|e| voc::Error::Io { path: a.output.clone(), source: e })?;
    let mut out = std::io::stdout().lock();
    out.write_all(rep.to_text().as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| voc::Error::Io { path: "-".into(), source: e })?;
    eprintln!("voc: wrote {}", a.output.display());
    Ok(())
}
