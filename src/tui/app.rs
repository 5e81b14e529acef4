//! The UI's state and its one way to change: [`App::update`]. The heavy work (filtering
//! and sorting the flows into the table's row order, the totals) is done here, and only
//! when the snapshot, the filter, the order or the view changes, so that [`App::view`]
//! only formats the rows on screen.

use super::facts::{Changed, FactCache, RowFacts};
use super::filter::Filter;
use super::sort::{SortKey, merge_packed, order_by_name, pack, position, sort_packed};
use super::tally::{Summary, VerdictCounts, also_counts};
use super::{Command, UiEvent, UiOptions};
use crate::live::snapshot::Snapshot;
use crate::report::model::FlowReport;
use crate::rules::verdict::VerdictKind;
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A transient message lasts this many ticks of the runner.
pub const MESSAGE_TICKS: u32 = 40;
/// Rows the mouse wheel moves per notch.
const WHEEL_ROWS: usize = 3;

/// The four views, cycled with Tab and Shift-Tab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Flows,
    Flagged,
    Summary,
    Rules,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Flows, Tab::Flagged, Tab::Summary, Tab::Rules];

    fn next(self) -> Tab {
        match self {
            Tab::Flows => Tab::Flagged,
            Tab::Flagged => Tab::Summary,
            Tab::Summary => Tab::Rules,
            Tab::Rules => Tab::Flows,
        }
    }

    fn prev(self) -> Tab {
        match self {
            Tab::Flows => Tab::Rules,
            Tab::Flagged => Tab::Flows,
            Tab::Summary => Tab::Flagged,
            Tab::Rules => Tab::Summary,
        }
    }

    /// Flows and Flagged show the flow table (and its detail pane).
    pub fn is_table(self) -> bool {
        matches!(self, Tab::Flows | Tab::Flagged)
    }
}

/// A line for the message bar, with the ticks it has left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    pub ticks_left: u32,
}

/// What the last frame learned about the screen's geometry, for the keys and the mouse:
/// how many table rows fit (a page), where they were drawn, how far the Summary or Rules
/// text can scroll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drawn {
    pub table_rows: u16,
    pub table_body: Rect,
    pub max_scroll: u16,
}

impl Default for Drawn {
    fn default() -> Drawn {
        Drawn {
            table_rows: 20,
            table_body: Rect::default(),
            max_scroll: u16::MAX,
        }
    }
}

/// The terminal UI's state. The runner feeds it events through [`App::update`] and draws
/// it with [`App::view`]; the only thing `view` writes is [`Drawn`], the geometry of the
/// frame it drew (how many rows fit), which the keys and the mouse need.
pub struct App {
    pub(crate) options: UiOptions,
    /// The snapshot on screen.
    pub(crate) snap: Arc<Snapshot>,
    /// The newest snapshot that arrived while paused, and how many did.
    pub(crate) held: Option<Arc<Snapshot>>,
    pub(crate) held_count: u64,
    pub(crate) paused: bool,
    pub(crate) tab: Tab,
    pub(crate) sort: SortKey,
    pub(crate) filter: Filter,
    /// The filter line being typed, when open.
    pub(crate) input: Option<String>,
    /// Indices into `snap.flows`, in the table's order, for the current tab and filter.
    pub(crate) rows: Vec<usize>,
    /// Index into `rows` of the selected flow, and of the first row on screen.
    pub(crate) selected: usize,
    pub(crate) offset: usize,
    pub(crate) detail: bool,
    pub(crate) help: bool,
    pub(crate) message: Option<Message>,
    pub(crate) counts: VerdictCounts,
    /// Computed while the Summary is on screen.
    pub(crate) summary: Option<Summary>,
    /// Computed while the Rules are on screen: flows each rule matched as a host's other exception.
    pub(crate) also: Option<HashMap<String, u64>>,
    /// Lines scrolled in the Summary and Rules views.
    pub(crate) scroll: u16,
    /// Flagged flows already announced by the bell.
    flagged_ids: HashSet<u64>,
    /// The newest flow list received (shown or held), to find what a new one changed.
    latest: Arc<Vec<Arc<FlowReport>>>,
    /// Per-flow facts kept across snapshots.
    facts: FactCache,
    /// The rows as packed sort keys (see `sort::pack`), in order, and the view they are for.
    packed: Vec<u128>,
    packed_tab: Option<Tab>,
    /// Written by `view`, read by `update`.
    pub(crate) drawn: Cell<Drawn>,
}

/// What to keep selected across a change of rows.
struct Keep {
    id: Option<u64>,
    pos: usize,
    offset: usize,
}

impl App {
    pub fn new(initial: Arc<Snapshot>, options: UiOptions) -> App {
        let flagged_ids = initial
            .flows
            .iter()
            .filter(|f| f.verdict.kind == VerdictKind::Flagged)
            .map(|f| f.id)
            .collect();
        let latest = Arc::clone(&initial.flows);
        let mut app = App {
            options,
            snap: initial,
            held: None,
            held_count: 0,
            paused: false,
            tab: Tab::Flows,
            sort: SortKey::default(),
            filter: Filter::default(),
            input: None,
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            detail: false,
            help: false,
            message: None,
            counts: VerdictCounts::default(),
            summary: None,
            also: None,
            scroll: 0,
            flagged_ids,
            latest,
            facts: FactCache::new(),
            packed: Vec::new(),
            packed_tab: None,
            drawn: Cell::new(Drawn::default()),
        };
        app.recompute(Keep {
            id: None,
            pos: 0,
            offset: 0,
        });
        app
    }

    /// Handles one event; returns what the runner must do (quit, export the report, ring the bell).
    pub fn update(&mut self, ev: UiEvent) -> Option<Command> {
        match ev {
            UiEvent::Key(k) => self.key(k),
            UiEvent::Mouse(m) => {
                self.mouse(m);
                None
            }
            UiEvent::Snapshot(s) => self.snapshot(s),
            UiEvent::Message(text) => {
                self.say(text, false);
                None
            }
            UiEvent::Tick => {
                if let Some(m) = &mut self.message {
                    m.ticks_left = m.ticks_left.saturating_sub(1);
                    if m.ticks_left == 0 {
                        self.message = None;
                    }
                }
                None
            }
        }
    }

    /// Draws the whole screen from the state alone (pure: no I/O, no clock).
    pub fn view(&self, frame: &mut ratatui::Frame) {
        super::view::draw(self, frame);
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The flow under the selection, if the table has rows.
    pub(crate) fn selected_flow(&self) -> Option<&Arc<FlowReport>> {
        self.rows
            .get(self.selected)
            .and_then(|&i| self.snap.flows.get(i))
    }

    fn say(&mut self, text: String, error: bool) {
        self.message = Some(Message {
            text,
            error,
            ticks_left: MESSAGE_TICKS,
        });
    }

    fn snapshot(&mut self, s: Arc<Snapshot>) -> Option<Command> {
        let newly_flagged = self.note_flagged(&s.flows);
        self.latest = Arc::clone(&s.flows);
        if self.paused {
            self.held = Some(s);
            self.held_count = self.held_count.saturating_add(1);
        } else {
            self.show(s);
        }
        (newly_flagged && self.options.bell).then_some(Command::Bell)
    }

    /// Records the flagged flows of a new flow list; true if one was not flagged before.
    /// Flows shared with the previous list (the same `Arc` at the same place) are skipped:
    /// the pipeline shares every flow that did not change.
    fn note_flagged(&mut self, flows: &Arc<Vec<Arc<FlowReport>>>) -> bool {
        if Arc::ptr_eq(flows, &self.latest) {
            return false;
        }
        let mut news = false;
        for (i, f) in flows.iter().enumerate() {
            let same = self.latest.get(i).is_some_and(|old| Arc::ptr_eq(old, f));
            if !same && f.verdict.kind == VerdictKind::Flagged && self.flagged_ids.insert(f.id) {
                news = true;
            }
        }
        news
    }

    /// Puts a snapshot on screen, keeping the selected flow (or the top, when the
    /// selection is on the first row, so the newest flows stay in view).
    fn show(&mut self, s: Arc<Snapshot>) {
        let keep = self.keep();
        self.snap = s;
        self.recompute(keep);
    }

    fn keep(&self) -> Keep {
        Keep {
            id: if self.selected == 0 {
                None
            } else {
                self.selected_flow().map(|f| f.id)
            },
            pos: self.selected,
            offset: self.offset,
        }
    }

    /// Rebuilds the rows (filter, tab, order) and the totals from the flows' facts, then
    /// restores the selection. When only a few flows changed since the rows were last
    /// ordered, for the same view, only those are placed again: the rest keep their order.
    fn recompute(&mut self, keep: Keep) {
        let flows = &self.snap.flows;
        let changed = self.facts.update(flows, &self.filter, self.sort);
        let facts = self.facts.facts();
        let mut counts = VerdictCounts::default();
        for x in facts {
            counts.add(x.kind);
        }
        self.counts = counts;
        let flagged_only = self.tab == Tab::Flagged;
        let wanted = |x: &RowFacts| x.kept && (!flagged_only || x.kind == VerdictKind::Flagged);
        let packed_rows = |positions: &mut dyn Iterator<Item = usize>| -> Vec<u128> {
            positions
                .filter_map(|i| {
                    facts
                        .get(i)
                        .filter(|x| wanted(x))
                        .and_then(|x| pack(x.key, i))
                })
                .collect()
        };
        if !self.tab.is_table() {
            self.packed.clear();
            self.packed_tab = None;
            self.rows.clear();
        } else if self.sort == SortKey::Name {
            let mut rows: Vec<usize> = (0..facts.len())
                .filter(|&i| facts.get(i).is_some_and(&wanted))
                .collect();
            order_by_name(&mut rows, flows);
            self.rows = rows;
            self.packed.clear();
            self.packed_tab = None;
        } else {
            let few = match &changed {
                Changed::Some(c) if self.packed_tab == Some(self.tab) => {
                    (c.len() <= facts.len() / 4).then_some(c)
                }
                _ => None,
            };
            match few {
                Some(c) if c.is_empty() => {}
                Some(c) => {
                    let mut moved = vec![false; facts.len()];
                    for &i in c {
                        if let Some(m) = moved.get_mut(i) {
                            *m = true;
                        }
                    }
                    let mut fresh = packed_rows(&mut c.iter().copied());
                    sort_packed(&mut fresh);
                    let mut kept = std::mem::take(&mut self.packed);
                    kept.retain(|&p| !moved.get(position(p)).copied().unwrap_or(true));
                    self.packed = merge_packed(kept, fresh);
                }
                None => {
                    let mut packed = packed_rows(&mut (0..facts.len()));
                    sort_packed(&mut packed);
                    self.packed = packed;
                }
            }
            self.packed_tab = Some(self.tab);
            self.rows.clear();
            self.rows.extend(self.packed.iter().map(|&p| position(p)));
        }
        self.summary =
            (self.tab == Tab::Summary).then(|| Summary::of(facts, self.facts.categories()));
        self.also = (self.tab == Tab::Rules).then(|| also_counts(flows, facts));
        self.restore(keep);
    }

    fn restore(&mut self, keep: Keep) {
        let last = self.rows.len().saturating_sub(1);
        let found = keep.id.and_then(|id| {
            let flows = &self.snap.flows;
            let idx = flows
                .binary_search_by_key(&id, |f| f.id)
                .ok()
                .or_else(|| flows.iter().position(|f| f.id == id))?;
            self.rows.iter().position(|&r| r == idx)
        });
        match found {
            Some(pos) => {
                self.selected = pos;
                // Shift the view with the flow, so the screen does not jump under the reader.
                self.offset = if pos >= keep.pos {
                    keep.offset.saturating_add(pos - keep.pos)
                } else {
                    keep.offset.saturating_sub(keep.pos - pos)
                };
            }
            None if keep.id.is_some() => {
                self.selected = keep.pos.min(last);
                self.offset = keep.offset;
            }
            None => {
                self.selected = 0;
                self.offset = 0;
            }
        }
        self.ensure_visible();
    }

    fn ensure_visible(&mut self) {
        let page = usize::from(self.drawn.get().table_rows.max(1));
        let last = self.rows.len().saturating_sub(1);
        self.selected = self.selected.min(last);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset.saturating_add(page) {
            self.offset = self.selected.saturating_add(1).saturating_sub(page);
        }
        // No empty screen below the last row when the list shrank.
        self.offset = self.offset.min(self.rows.len().saturating_sub(page));
    }

    fn key(&mut self, k: KeyEvent) -> Option<Command> {
        if k.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c') | KeyCode::Char('C')) {
            return Some(Command::Quit);
        }
        if self.help {
            self.help = false;
            return None;
        }
        if self.input.is_some() {
            self.edit_filter(k);
            return None;
        }
        if ctrl || k.modifiers.contains(KeyModifiers::ALT) {
            return None;
        }
        let page = usize::from(self.drawn.get().table_rows.max(1));
        match k.code {
            KeyCode::Char('q') => return Some(Command::Quit),
            KeyCode::Char('e') => return Some(Command::Export),
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Char('p') => self.toggle_pause(),
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                let keep = self.keep_by_id();
                self.recompute(keep);
                self.say(format!("sorted by {}", self.sort.label()), false);
            }
            KeyCode::Char('/') => self.input = Some(self.filter.text().to_string()),
            KeyCode::Tab => self.switch_tab(self.tab.next()),
            KeyCode::BackTab => self.switch_tab(self.tab.prev()),
            KeyCode::Enter if self.tab.is_table() => self.detail = !self.detail,
            KeyCode::Esc => self.detail = false,
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-signed(page)),
            KeyCode::PageDown => self.move_by(signed(page)),
            KeyCode::Home | KeyCode::Char('g') => self.move_to(0),
            KeyCode::End | KeyCode::Char('G') => self.move_to(usize::MAX),
            _ => {}
        }
        None
    }

    /// Keeps the selected flow even on the first row (for changes the user asked for).
    fn keep_by_id(&self) -> Keep {
        Keep {
            id: self.selected_flow().map(|f| f.id),
            pos: self.selected,
            offset: self.offset,
        }
    }

    fn edit_filter(&mut self, k: KeyEvent) {
        let Some(input) = &mut self.input else {
            return;
        };
        let plain = !k
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match k.code {
            KeyCode::Char(c) if plain => input.push(c),
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Esc => self.input = None,
            KeyCode::Enter => {
                let text = std::mem::take(input);
                self.input = None;
                match Filter::parse(&text) {
                    Ok(f) => {
                        self.filter = f;
                        let keep = self.keep_by_id();
                        self.recompute(keep);
                        if self.filter.is_empty() {
                            self.say("filter cleared".into(), false);
                        }
                    }
                    Err(e) => self.say(format!("filter not applied: {e}"), true),
                }
            }
            _ => {}
        }
    }

    fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        if !self.paused {
            self.held_count = 0;
            if let Some(s) = self.held.take() {
                self.show(s);
            }
        }
    }

    fn switch_tab(&mut self, tab: Tab) {
        let keep = self.keep_by_id();
        self.tab = tab;
        self.scroll = 0;
        self.recompute(keep);
    }

    fn move_by(&mut self, delta: isize) {
        if self.tab.is_table() {
            let to = if delta < 0 {
                self.selected.saturating_sub(delta.unsigned_abs())
            } else {
                self.selected.saturating_add(delta.unsigned_abs())
            };
            self.move_to(to);
        } else {
            let step = u16::try_from(delta.unsigned_abs()).unwrap_or(u16::MAX);
            let scroll = if delta < 0 {
                self.scroll.saturating_sub(step)
            } else {
                self.scroll.saturating_add(step)
            };
            self.scroll = scroll.min(self.drawn.get().max_scroll);
        }
    }

    fn move_to(&mut self, row: usize) {
        if self.tab.is_table() {
            self.selected = row.min(self.rows.len().saturating_sub(1));
            self.ensure_visible();
        } else {
            self.scroll = u16::try_from(row)
                .unwrap_or(u16::MAX)
                .min(self.drawn.get().max_scroll);
        }
    }

    fn mouse(&mut self, m: MouseEvent) {
        if self.help {
            return;
        }
        match m.kind {
            MouseEventKind::ScrollDown => self.move_by(signed(WHEEL_ROWS)),
            MouseEventKind::ScrollUp => self.move_by(-signed(WHEEL_ROWS)),
            MouseEventKind::Down(MouseButton::Left) if self.tab.is_table() => {
                let body = self.drawn.get().table_body;
                if body.contains(ratatui::layout::Position::new(m.column, m.row)) {
                    let row = usize::from(m.row.saturating_sub(body.y));
                    let target = self.offset.saturating_add(row);
                    if target < self.rows.len() {
                        self.selected = target;
                        self.ensure_visible();
                    }
                }
            }
            _ => {}
        }
    }
}

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testing::{
        demo_snapshot, flow_named, key, key_code, render, snapshot_with, with_flows,
    };
    use crossterm::event::{KeyModifiers, MouseEvent};

    fn app() -> App {
        App::new(demo_snapshot(), UiOptions::default())
    }

    fn selected_id(a: &App) -> u64 {
        a.selected_flow().unwrap().id
    }

    #[test]
    fn selection_moves_and_stays_in_bounds() {
        let mut a = app();
        assert_eq!(a.rows.len(), 41);
        // Newest first: the last flow to see a packet leads.
        let first = selected_id(&a);
        assert_eq!(a.selected, 0);
        a.update(key_code(KeyCode::Up));
        assert_eq!(a.selected, 0, "no row above the first");
        a.update(key('j'));
        a.update(key_code(KeyCode::Down));
        assert_eq!(a.selected, 2);
        a.update(key('k'));
        assert_eq!(a.selected, 1);
        a.update(key('G'));
        assert_eq!(a.selected, 40);
        a.update(key_code(KeyCode::Down));
        assert_eq!(a.selected, 40, "no row below the last");
        a.update(key_code(KeyCode::Home));
        assert_eq!(selected_id(&a), first);
        a.update(key_code(KeyCode::End));
        assert_eq!(a.selected, 40);
        a.update(key('g'));
        assert_eq!(a.selected, 0);
    }

    #[test]
    fn pages_follow_the_drawn_table_height() {
        let mut a = app();
        render(&a, 80, 24);
        let page = usize::from(a.drawn.get().table_rows);
        assert!((15..=20).contains(&page), "table rows at 80x24: {page}");
        a.update(key_code(KeyCode::PageDown));
        assert_eq!(a.selected, page);
        assert!(a.offset > 0 && a.offset <= a.selected);
        assert!(
            a.selected < a.offset + page,
            "the selection stays on screen"
        );
        a.update(key_code(KeyCode::PageDown));
        a.update(key_code(KeyCode::PageDown));
        assert_eq!(a.selected, 40);
        a.update(key_code(KeyCode::PageUp));
        assert_eq!(a.selected, 40 - page);
    }

    #[test]
    fn tab_cycles_the_views_both_ways() {
        let mut a = app();
        let mut seen = vec![a.tab];
        for _ in 0..4 {
            a.update(key_code(KeyCode::Tab));
            seen.push(a.tab);
        }
        assert_eq!(
            seen,
            [
                Tab::Flows,
                Tab::Flagged,
                Tab::Summary,
                Tab::Rules,
                Tab::Flows
            ]
        );
        a.update(key_code(KeyCode::BackTab));
        assert_eq!(a.tab, Tab::Rules);
        a.update(key_code(KeyCode::BackTab));
        assert_eq!(a.tab, Tab::Summary);
        assert!(a.summary.is_some(), "the Summary's totals are ready");
        a.update(key_code(KeyCode::BackTab));
        assert_eq!(a.tab, Tab::Flagged);
        assert_eq!(a.rows.len(), 5, "only the flagged flows");
        assert!(a.summary.is_none());
    }

    #[test]
    fn help_opens_with_question_mark_or_f1_and_any_key_closes_it() {
        let mut a = app();
        a.update(key('?'));
        assert!(a.help);
        // The closing key does nothing else: `q` does not quit here.
        assert_eq!(a.update(key('q')), None);
        assert!(!a.help);
        a.update(key_code(KeyCode::F(1)));
        assert!(a.help);
        a.update(key_code(KeyCode::Down));
        assert!(!a.help);
        assert_eq!(a.selected, 0, "the closing key did not move the selection");
    }

    #[test]
    fn quit_export_and_ctrl_c() {
        let mut a = app();
        assert_eq!(a.update(key('q')), Some(Command::Quit));
        assert_eq!(a.update(key('e')), Some(Command::Export));
        let ctrl_c = UiEvent::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(a.update(ctrl_c.clone()), Some(Command::Quit));
        // Ctrl-C quits even while typing a filter, where `q` is just a letter.
        a.update(key('/'));
        assert_eq!(a.update(key('q')), None);
        assert_eq!(a.input.as_deref(), Some("q"));
        assert_eq!(a.update(ctrl_c), Some(Command::Quit));
    }

    #[test]
    fn enter_toggles_the_detail_and_esc_closes_it() {
        let mut a = app();
        a.update(key_code(KeyCode::Enter));
        assert!(a.detail);
        a.update(key_code(KeyCode::Enter));
        assert!(!a.detail);
        a.update(key_code(KeyCode::Enter));
        a.update(key_code(KeyCode::Esc));
        assert!(!a.detail);
    }

    #[test]
    fn the_filter_line_applies_cancels_and_clears() {
        let mut a = app();
        a.update(key('/'));
        for c in "host:plex.tv".chars() {
            a.update(key(c));
        }
        a.update(key('x'));
        a.update(key_code(KeyCode::Backspace));
        assert_eq!(a.input.as_deref(), Some("host:plex.tv"));
        assert_eq!(a.rows.len(), 41, "nothing applied before Enter");
        a.update(key_code(KeyCode::Enter));
        assert_eq!(a.input, None);
        assert_eq!(a.filter.text(), "host:plex.tv");
        let n = a.rows.len();
        assert!((7..=9).contains(&n), "{n} plex.tv flows");

        // Esc cancels an edit: the old filter stays.
        a.update(key('/'));
        a.update(key_code(KeyCode::Backspace));
        a.update(key_code(KeyCode::Esc));
        assert_eq!(a.filter.text(), "host:plex.tv");
        assert_eq!(a.rows.len(), n);

        // A bad term keeps the old filter and says why.
        a.update(key('/'));
        for c in " port:abc".chars() {
            a.update(key(c));
        }
        a.update(key_code(KeyCode::Enter));
        assert_eq!(a.filter.text(), "host:plex.tv");
        assert_eq!(a.rows.len(), n);
        let m = a.message.clone().unwrap();
        assert!(m.error && m.text.contains("port:abc"), "{m:?}");

        // An empty filter clears it.
        a.update(key('/'));
        for _ in 0..40 {
            a.update(key_code(KeyCode::Backspace));
        }
        a.update(key_code(KeyCode::Enter));
        assert!(a.filter.is_empty());
        assert_eq!(a.rows.len(), 41);
    }

    #[test]
    fn sort_cycles_and_keeps_the_selected_flow() {
        let mut a = app();
        a.update(key('j'));
        let id = selected_id(&a);
        a.update(key('s'));
        assert_eq!(a.sort, SortKey::BytesOut);
        assert_eq!(selected_id(&a), id, "the same flow stays selected");
        // The biggest sender is the remote-access stream, flow 36 (204 KiB out).
        assert_eq!(a.snap.flows[a.rows[0]].id, 36);
        for _ in 0..3 {
            a.update(key('s'));
        }
        assert_eq!(a.sort, SortKey::LastSeen);
    }

    #[test]
    fn pause_keeps_the_old_snapshot_on_screen_until_resumed() {
        let first = with_flows(&demo_snapshot(), 10);
        let mut a = App::new(first, UiOptions::default());
        assert_eq!(a.rows.len(), 10);
        a.update(key('p'));
        assert!(a.paused());
        a.update(UiEvent::Snapshot(with_flows(&demo_snapshot(), 20)));
        a.update(UiEvent::Snapshot(with_flows(&demo_snapshot(), 30)));
        assert_eq!(a.rows.len(), 10, "still the snapshot from before the pause");
        assert_eq!(a.held_count, 2);
        let screen = render(&a, 80, 24);
        assert!(screen.contains("PAUSED"), "{screen}");
        a.update(key('p'));
        assert!(!a.paused());
        assert_eq!(a.rows.len(), 30, "the newest held snapshot");
        assert!(!render(&a, 80, 24).contains("PAUSED"));
    }

    #[test]
    fn bell_rings_for_a_newly_flagged_flow_only() {
        let opts = UiOptions {
            no_color: false,
            bell: true,
        };
        // Flows 1..=12 hold no flagged flow; 13 is metrics.plex.tv.
        let mut a = App::new(with_flows(&demo_snapshot(), 12), opts);
        assert_eq!(
            a.update(UiEvent::Snapshot(with_flows(&demo_snapshot(), 12))),
            None
        );
        assert_eq!(
            a.update(UiEvent::Snapshot(with_flows(&demo_snapshot(), 13))),
            Some(Command::Bell)
        );
        // Already announced: a later snapshot with the same flagged flows is quiet.
        assert_eq!(
            a.update(UiEvent::Snapshot(with_flows(&demo_snapshot(), 14))),
            None
        );
        // While paused the capture goes on, and so does the bell.
        a.update(key('p'));
        assert_eq!(
            a.update(UiEvent::Snapshot(with_flows(&demo_snapshot(), 15))),
            Some(Command::Bell)
        );
        // Flagged flows present at start are not news.
        let mut quiet = App::new(demo_snapshot(), opts);
        assert_eq!(quiet.update(UiEvent::Snapshot(demo_snapshot())), None);
        // Without the option, never.
        let mut off = App::new(with_flows(&demo_snapshot(), 12), UiOptions::default());
        assert_eq!(off.update(UiEvent::Snapshot(demo_snapshot())), None);
    }

    /// `n` flows, each seen one second after the one before.
    fn timed_flows(n: u64) -> Vec<crate::report::model::FlowReport> {
        (1..=n)
            .map(|id| {
                let mut f = flow_named(id, &format!("host{id}.example"));
                f.last_seen = f.last_seen.saturating_add_secs(i64::try_from(id).unwrap());
                f
            })
            .collect()
    }

    #[test]
    fn the_top_row_follows_new_flows_and_a_chosen_flow_stays_chosen() {
        let mut a = App::new(snapshot_with(timed_flows(20)), UiOptions::default());
        assert_eq!(selected_id(&a), 20);
        a.update(UiEvent::Snapshot(snapshot_with(timed_flows(25))));
        assert_eq!(
            selected_id(&a),
            25,
            "on the first row, the newest flow is selected"
        );
        a.update(key('j'));
        a.update(key('j'));
        assert_eq!(selected_id(&a), 23);
        a.update(UiEvent::Snapshot(snapshot_with(timed_flows(30))));
        assert_eq!(
            selected_id(&a),
            23,
            "a flow the user moved to stays selected"
        );
        assert_eq!(a.selected, 7);
    }

    #[test]
    fn rows_placed_again_incrementally_match_a_fresh_sort() {
        use crate::rules::verdict::VerdictKind::*;
        let mut base = timed_flows(200);
        for (i, f) in base.iter_mut().enumerate() {
            f.verdict.kind = [Flagged, Declared, Allowed, Local][i % 4];
            f.bytes_out = (i as u64 * 7919) % 5000;
        }
        let first: Vec<Arc<FlowReport>> = base.into_iter().map(Arc::new).collect();
        // The next list shares all but three flows (seen later, with more bytes), and adds two.
        let mut second = first.clone();
        for at in [3, 70, 150] {
            let mut f = (*second[at]).clone();
            f.last_seen = f.last_seen.saturating_add_secs(600);
            f.bytes_out += 1_000_000;
            second[at] = Arc::new(f);
        }
        for id in [201, 202] {
            second.push(Arc::new(flow_named(id, "late.example")));
        }
        let snap = |flows: &Vec<Arc<FlowReport>>| {
            let mut s = (*demo_snapshot()).clone();
            s.flows = Arc::new(flows.clone());
            Arc::new(s)
        };
        for (tabs, sorts, filter) in [
            (0, 0, ""),
            (1, 0, ""),
            (0, 1, ""),
            (0, 3, ""),
            (0, 0, "host:1"),
        ] {
            let setup = |a: &mut App| {
                for _ in 0..tabs {
                    a.update(key_code(KeyCode::Tab));
                }
                for _ in 0..sorts {
                    a.update(key('s'));
                }
                if !filter.is_empty() {
                    a.update(key('/'));
                    for c in filter.chars() {
                        a.update(key(c));
                    }
                    a.update(key_code(KeyCode::Enter));
                }
            };
            let mut a = App::new(snap(&first), UiOptions::default());
            setup(&mut a);
            a.update(UiEvent::Snapshot(snap(&second)));
            let mut fresh = App::new(snap(&second), UiOptions::default());
            setup(&mut fresh);
            assert!(!a.rows.is_empty());
            assert_eq!(
                a.rows, fresh.rows,
                "tabs {tabs}, sorts {sorts}, filter {filter}"
            );
            assert_eq!(a.counts, fresh.counts);
        }
    }

    #[test]
    fn messages_expire_after_their_ticks() {
        let mut a = app();
        a.update(UiEvent::Message("report written to /tmp/r.md".into()));
        for _ in 1..MESSAGE_TICKS {
            a.update(UiEvent::Tick);
        }
        assert!(a.message.is_some());
        a.update(UiEvent::Tick);
        assert!(a.message.is_none());
    }

    #[test]
    fn the_mouse_wheel_scrolls_and_a_click_selects() {
        let mut a = app();
        render(&a, 80, 24);
        let wheel = |kind| {
            UiEvent::Mouse(MouseEvent {
                kind,
                column: 10,
                row: 10,
                modifiers: KeyModifiers::NONE,
            })
        };
        a.update(wheel(MouseEventKind::ScrollDown));
        assert_eq!(a.selected, 3);
        a.update(wheel(MouseEventKind::ScrollUp));
        a.update(wheel(MouseEventKind::ScrollUp));
        assert_eq!(a.selected, 0);
        let body = a.drawn.get().table_body;
        a.update(UiEvent::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 5,
            row: body.y + 4,
            modifiers: KeyModifiers::NONE,
        }));
        assert_eq!(a.selected, 4);
    }

    #[test]
    fn a_filter_that_hides_the_selected_flow_keeps_a_valid_selection() {
        let mut a = App::new(
            snapshot_with(vec![flow_named(1, "a.example")]),
            UiOptions::default(),
        );
        a.update(key('/'));
        for c in "nothing-matches".chars() {
            a.update(key(c));
        }
        a.update(key_code(KeyCode::Enter));
        assert!(a.rows.is_empty());
        assert!(a.selected_flow().is_none());
        a.update(key('j'));
        a.update(key('G'));
        a.update(key_code(KeyCode::Enter));
        let screen = render(&a, 80, 24);
        assert!(screen.contains("no flow matches"), "{screen}");
    }
}
