//! The Rules view: the rules file, then every rule that matched with its kind, category,
//! the flows it decided and their bytes out, the flows whose host it also serves (and,
//! when wide, its justification), then the rules that never matched, listed apart.
//! Scrolls with the movement keys.

use super::detail::kind_word;
use super::style::{Theme, fit};
use crate::report::model::RuleUse;
use crate::rules::RuleKind;
use crate::text::{bytes, neutralise};
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

const ID_W: usize = 20;
const KIND_W: usize = 10;
const CAT_W: usize = 18;
/// Terminals at least this wide also show each rule's justification.
const WITH_WHY: u16 = 120;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let info = &app.snap.rules;
    let also = |r: &RuleUse| {
        app.also
            .as_ref()
            .and_then(|a| a.get(&r.id))
            .copied()
            .unwrap_or(0)
    };
    let (used, unused): (Vec<&RuleUse>, Vec<&RuleUse>) =
        info.rules.iter().partition(|r| r.flows > 0 || also(r) > 0);
    let sha = info.sha256.get(..16).unwrap_or(&info.sha256);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" Rules ", theme.title()),
            Span::raw(neutralise(&info.path)),
            Span::styled(format!("  sha256 {}", neutralise(sha)), theme.dim()),
            Span::styled(format!("  for {}", neutralise(&info.server)), theme.dim()),
        ]),
        Line::styled(
            format!(
                " {} rules: {} matched flows, {} never did",
                info.rules.len(),
                used.len(),
                unused.len()
            ),
            theme.dim(),
        ),
        Line::default(),
        heading(&format!("Matched ({})", used.len()), area.width, theme),
    ];
    lines.extend(
        used.iter()
            .map(|r| rule_line(r, also(r), area.width, theme)),
    );
    lines.push(Line::default());
    lines.push(heading(
        &format!("Never matched ({})", unused.len()),
        area.width,
        theme,
    ));
    lines.extend(unused.iter().map(|r| rule_line(r, 0, area.width, theme)));
    if used.iter().any(|r| also(r) > 0) {
        lines.push(Line::default());
        lines.push(Line::styled(
            " also: flows whose host this exception serves too, though another rule decided them",
            theme.dim(),
        ));
    }
    super::scrolled(app, theme, frame, area, lines);
}

fn heading(title: &str, width: u16, theme: &Theme) -> Line<'static> {
    let mut text = format!(
        " {:<ID_W$} {:<KIND_W$} {:<CAT_W$} {:>6} {:>10} {:>5}",
        fit(title, ID_W),
        "kind",
        "category",
        "flows",
        "bytes out",
        "also"
    );
    if width >= WITH_WHY {
        text.push_str("  justification");
    }
    Line::styled(text, theme.title())
}

fn rule_line(r: &RuleUse, also: u64, width: u16, theme: &Theme) -> Line<'static> {
    let kind_style = match r.kind {
        RuleKind::Collection | RuleKind::LocalOnly if r.flows > 0 => theme.error(),
        _ => theme.plain(),
    };
    let row_style = if r.flows == 0 && also == 0 {
        theme.dim()
    } else {
        theme.plain()
    };
    let mut spans = vec![
        Span::styled(
            format!(" {:<ID_W$} ", fit(&neutralise(&r.id), ID_W)),
            row_style,
        ),
        Span::styled(format!("{:<KIND_W$} ", kind_word(r.kind)), kind_style),
        Span::styled(
            format!(
                "{:<CAT_W$} {:>6} {:>10} {:>5}",
                fit(&neutralise(&r.category), CAT_W),
                r.flows,
                bytes(r.bytes_out),
                if also > 0 {
                    also.to_string()
                } else {
                    String::new()
                }
            ),
            row_style,
        ),
    ];
    if width >= WITH_WHY {
        let used = ID_W + KIND_W + CAT_W + 6 + 10 + 5 + 8;
        let room = usize::from(width).saturating_sub(used);
        spans.push(Span::styled(
            format!("  {}", fit(&neutralise(r.justification.trim()), room)),
            theme.dim(),
        ));
    }
    Line::from(spans)
}
