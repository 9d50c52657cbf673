//! The assistant's evaluation corpus: a team's rooms, messages and tasks with facts hidden in
//! everyday chatter, and questions about them in categories that each test one way an answer
//! goes wrong. Deterministic for a seed; data only (the server loads it, asks the questions and
//! scores the answers), and on purpose knows nothing of how the assistant retrieves or answers,
//! so the corpus cannot be tuned to the code it measures.
//!
//! Every question carries the sources that answer it (what a right answer cites) and the fact
//! strings a right answer contains; questions without an answer in the asker's rooms carry the
//! facts that must *not* appear (for questions about a room the asker is not in).

use std::collections::HashSet;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

/// What a question tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// The question shares no content word with the message that answers it.
    Paraphrase,
    /// Other messages share the question's keywords but do not answer it.
    Distractor,
    /// The fact was corrected later in the room (often in a reply that does not name the
    /// subject); the answer is the latest statement.
    Corrected,
    /// The answer is in a task (title, description, assignee, due date).
    Task,
    /// The answer is in a task's discussion, in a message that does not name the task.
    TaskDiscussion,
    /// The answer needs two messages.
    TwoMessages,
    /// The question fits two facts; a right answer gives both.
    Ambiguous,
    /// Nothing in the asker's rooms answers it (some of them talk about the subject).
    Unanswerable,
    /// The answer exists only in a room the asker is not in: it must not come back.
    CrossRoom,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Paraphrase,
        Category::Distractor,
        Category::Corrected,
        Category::Task,
        Category::TaskDiscussion,
        Category::TwoMessages,
        Category::Ambiguous,
        Category::Unanswerable,
        Category::CrossRoom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Paraphrase => "paraphrase",
            Category::Distractor => "distractor",
            Category::Corrected => "corrected",
            Category::Task => "task",
            Category::TaskDiscussion => "task-discussion",
            Category::TwoMessages => "two-messages",
            Category::Ambiguous => "ambiguous",
            Category::Unanswerable => "unanswerable",
            Category::CrossRoom => "cross-room",
        }
    }

    /// Whether the asker's rooms hold the answer (otherwise the right answer is "not found").
    pub fn answerable(self) -> bool {
        !matches!(self, Category::Unanswerable | Category::CrossRoom)
    }
}

/// How big a corpus to make.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub rooms: usize,
    /// Everyday messages across all rooms (the planted facts come on top).
    pub filler: usize,
    /// Questions per category (fewer for [`Category::Paraphrase`] if its subjects run out).
    pub per_category: usize,
    pub seed: u64,
}

/// A group room and its members (indexes into [`Corpus::users`]).
#[derive(Debug, Clone)]
pub struct Room {
    pub name: String,
    pub members: Vec<usize>,
}

/// A message. `order` places it in its room's timeline (ascending); `reply_to` is another
/// message of the same room, `task` a task of the same room whose discussion it belongs to.
#[derive(Debug, Clone)]
pub struct Message {
    pub room: usize,
    pub author: usize,
    pub body: String,
    pub order: u32,
    pub reply_to: Option<usize>,
    pub task: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub room: usize,
    pub creator: usize,
    pub assignee: Option<usize>,
    pub title: String,
    pub description: String,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
    pub order: u32,
}

/// A message or task, by index into [`Corpus::messages`] / [`Corpus::tasks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceRef {
    Message(usize),
    Task(usize),
}

#[derive(Debug, Clone)]
pub struct Question {
    pub category: Category,
    /// Index into [`Corpus::users`]; the question is asked across all the asker's rooms.
    pub asker: usize,
    pub text: String,
    /// What a right answer cites (empty when there is no answer).
    pub sources: Vec<SourceRef>,
    /// Strings a right answer contains (every one of them), compared case-insensitively.
    pub facts: Vec<String>,
    /// Strings that must not appear in the answer: the hidden room's fact (cross-room).
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Corpus {
    /// Usernames.
    pub users: Vec<String>,
    pub rooms: Vec<Room>,
    pub messages: Vec<Message>,
    pub tasks: Vec<Task>,
    pub questions: Vec<Question>,
}

const TEAMS: &[&str] = &[
    "general",
    "backend",
    "frontend",
    "design",
    "ops",
    "sales",
    "support",
    "marketing",
    "data",
    "mobile",
    "security",
    "finance",
    "hiring",
    "platform",
    "growth",
    "docs",
    "qa",
    "infra",
];

/// First names the corpus's people (and the assistant benchmark's) go by.
pub const PEOPLE: &[&str] = &[
    "Ann", "Bob", "Carla", "Dev", "Erin", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kira", "Lars",
    "Mona", "Nils", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tara",
];

const SYLLABLES: &[&str] = &[
    "zor", "vik", "tam", "blo", "quen", "dra", "mip", "sul", "fen", "rax", "lum", "pov", "kesh",
    "tir", "gal", "nob", "wex", "yul", "cor", "zan", "bri", "hol", "jax", "mor",
];

const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Working days, for dates in chatter.
pub const WEEKDAYS: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];

/// Subjects of the paraphrase questions: how the fact names it, how the question does, with no
/// word in common.
const PARAPHRASE_SUBJECTS: &[(&str, &str)] = &[
    ("cafeteria vendor", "canteen supplier"),
    ("staging server", "pre-production box"),
    ("payroll run", "salary payout"),
    ("fire drill", "evacuation exercise"),
    ("board meeting", "directors' session"),
    ("customer newsletter", "client mailing"),
    ("holiday party", "year-end celebration"),
    ("parking permits", "car spaces"),
    ("laptop refresh", "computer replacement"),
    ("security audit", "compliance inspection"),
    ("team offsite", "away day"),
    ("expense reports", "reimbursement claims"),
    ("on-call rotation", "pager schedule"),
    ("printer toner", "copier ink"),
    ("intern cohort", "trainee group"),
    ("annual survey", "yearly questionnaire"),
    ("datacenter move", "hardware relocation"),
    ("bike storage", "cycle shed"),
    ("quarterly report", "three-month summary"),
    ("travel budget", "trip allowance"),
    ("coffee beans order", "espresso supply"),
    ("kitchen cleanup", "pantry tidying"),
    ("logo redesign", "brand mark makeover"),
    ("wellness stipend", "health perk"),
];

/// Builds the corpus for `size`.
pub fn generate(size: Size) -> Corpus {
    let mut b = Builder::new(size);
    for i in 0..size.per_category {
        b.distractor(i);
        b.corrected(i);
        b.task(i);
        b.task_discussion(i);
        b.two_messages(i);
        b.ambiguous(i);
        b.unanswerable(i);
        b.cross_room(i);
        if i < PARAPHRASE_SUBJECTS.len() {
            b.paraphrase(i);
        }
    }
    b.fill(size.filler);
    b.finish()
}

struct Builder {
    rng: StdRng,
    users: Vec<String>,
    rooms: Vec<Room>,
    messages: Vec<Message>,
    tasks: Vec<Task>,
    questions: Vec<Question>,
    names: HashSet<String>,
}

/// Where in a room's timeline planted messages go: the first tenth and last tenth stay filler.
const ORDER_SPAN: u32 = 1_000_000;

impl Builder {
    fn new(size: Size) -> Builder {
        let mut rng = StdRng::seed_from_u64(size.seed);
        let rooms = size.rooms.max(2);
        let user_count = (rooms * 2).max(10);
        let users: Vec<String> = (0..user_count)
            .map(|i| {
                let name = PEOPLE[i % PEOPLE.len()].to_lowercase();
                match i / PEOPLE.len() {
                    0 => name,
                    n => format!("{name}{}", n + 1),
                }
            })
            .collect();
        let rooms = (0..rooms)
            .map(|r| {
                let mut members: Vec<usize> = (0..user_count).collect();
                members.shuffle(&mut rng);
                members.truncate(8.min(user_count));
                members.sort_unstable();
                Room {
                    name: match TEAMS.get(r) {
                        Some(t) => (*t).to_owned(),
                        None => format!("{}-{}", TEAMS[r % TEAMS.len()], r / TEAMS.len()),
                    },
                    members,
                }
            })
            .collect();
        Builder {
            rng,
            users,
            rooms,
            messages: Vec::new(),
            tasks: Vec::new(),
            questions: Vec::new(),
            names: HashSet::new(),
        }
    }

    fn finish(self) -> Corpus {
        Corpus {
            users: self.users,
            rooms: self.rooms,
            messages: self.messages,
            tasks: self.tasks,
            questions: self.questions,
        }
    }

    /// A unique made-up name (the subject of one question).
    fn codename(&mut self) -> String {
        loop {
            let parts = self.rng.gen_range(2..4);
            let mut name: String = (0..parts)
                .map(|_| SYLLABLES[self.rng.gen_range(0..SYLLABLES.len())])
                .collect();
            if let Some(first) = name.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            if self.names.insert(name.to_lowercase()) {
                return name;
            }
        }
    }

    fn person(&mut self) -> &'static str {
        PEOPLE[self.rng.gen_range(0..PEOPLE.len())]
    }

    /// Two different dates like "March 14".
    fn dates(&mut self) -> (String, String) {
        let month = MONTHS[self.rng.gen_range(0..MONTHS.len())];
        let a = self.rng.gen_range(2..28);
        let mut b = self.rng.gen_range(2..28);
        if b == a {
            b = a % 27 + 2;
        }
        (format!("{month} {a}"), format!("{month} {b}"))
    }

    fn date(&mut self) -> String {
        self.dates().0
    }

    fn amount(&mut self) -> u32 {
        self.rng.gen_range(2..90) * 1000 + self.rng.gen_range(1..10) * 100
    }

    /// A room for question `i` and a member of it to ask.
    fn room_and_asker(&mut self, i: usize) -> (usize, usize) {
        let room = (i * 7 + self.questions.len()) % self.rooms.len();
        let members = &self.rooms[room].members;
        (room, members[self.rng.gen_range(0..members.len())])
    }

    fn member(&mut self, room: usize) -> usize {
        let members = &self.rooms[room].members;
        members[self.rng.gen_range(0..members.len())]
    }

    /// A place in a room's timeline, after `after` when given.
    fn order_after(&mut self, after: Option<u32>) -> u32 {
        let low = after.map_or(ORDER_SPAN / 10, |a| a + 1);
        self.rng.gen_range(
            low..(low + ORDER_SPAN * 8 / 10)
                .min(ORDER_SPAN * 95 / 100)
                .max(low + 1),
        )
    }

    fn say(&mut self, room: usize, body: String, after: Option<u32>) -> usize {
        let order = self.order_after(after);
        let author = self.member(room);
        self.messages.push(Message {
            room,
            author,
            body,
            order,
            reply_to: None,
            task: None,
        });
        self.messages.len() - 1
    }

    fn order_of(&self, message: usize) -> u32 {
        self.messages[message].order
    }

    fn ask(
        &mut self,
        category: Category,
        asker: usize,
        text: String,
        sources: Vec<SourceRef>,
        facts: Vec<String>,
    ) {
        self.questions.push(Question {
            category,
            asker,
            text,
            sources,
            facts,
            secrets: Vec::new(),
        });
    }

    fn paraphrase(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        let (said, asked) = PARAPHRASE_SUBJECTS[i];
        let (fact, message, question) = match self.rng.gen_range(0..3) {
            0 => {
                let p = self.person();
                (
                    p.to_owned(),
                    format!("{p} is handling the {said} from now on."),
                    format!("Who takes care of the {asked}?"),
                )
            }
            1 => {
                let a = self.amount();
                (
                    format!("{a} euros"),
                    format!("The {said} costs {a} euros."),
                    format!("How much do we spend on {asked}?"),
                )
            }
            _ => {
                let d = self.date();
                (
                    d.clone(),
                    format!("Deadline for the {said} is {d}."),
                    format!("By what day must {asked} be finished?"),
                )
            }
        };
        let m = self.say(room, message, None);
        self.ask(
            Category::Paraphrase,
            asker,
            question,
            vec![SourceRef::Message(m)],
            vec![fact],
        );
    }

    fn distractor(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        let x = self.codename();
        let p = self.person();
        let port = self.rng.gen_range(3000..9999);
        let amount = self.amount();
        let date = self.date();
        let (fact, message, noise, question): (String, String, [String; 3], String) =
            match self.rng.gen_range(0..4) {
                0 => (
                    date.clone(),
                    format!("The {x} launch date is {date}, confirmed with marketing."),
                    [
                        format!("Can you also review the {x} launch checklist?"),
                        format!("Budget for the {x} launch party is {amount} euros."),
                        format!("Who writes the {x} launch announcement?"),
                    ],
                    format!("When is the {x} launch date?"),
                ),
                1 => (
                    port.to_string(),
                    format!("After the migration the {x} API listens on port {port}."),
                    [
                        format!("The {x} API docs need an update after the migration."),
                        format!("Is the {x} API down again? I get timeouts."),
                        format!("We should rate-limit the {x} API before the launch."),
                    ],
                    format!("Which port does the {x} API listen on?"),
                ),
                2 => (
                    p.to_owned(),
                    format!("{p} owns the {x} budget this quarter, ask {p} before ordering."),
                    [
                        format!("The {x} budget spreadsheet is in the shared drive."),
                        format!("Did anyone finish the {x} budget review?"),
                        format!("The {x} budget meeting ran long again."),
                    ],
                    format!("Who owns the {x} budget?"),
                ),
                _ => (
                    format!("room B{}", port % 90 + 10),
                    format!(
                        "The {x} workshop is in room B{} on the fourth floor.",
                        port % 90 + 10
                    ),
                    [
                        format!("Slides for the {x} workshop are in the team folder."),
                        format!("The {x} workshop feedback form closes Friday."),
                        format!("Can we move the {x} workshop earlier?"),
                    ],
                    format!("Which room is the {x} workshop in?"),
                ),
            };
        let m = self.say(room, message, None);
        for text in noise {
            self.say(room, text, None);
        }
        self.ask(
            Category::Distractor,
            asker,
            question,
            vec![SourceRef::Message(m)],
            vec![fact],
        );
    }

    fn corrected(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        let x = self.codename();
        let (d1, d2) = self.dates();
        let (a1, a2) = (self.amount(), self.amount() + 500);
        let (p1, p2) = (self.person(), self.person());
        let p2 = if p1 == p2 { "Tara" } else { p2 };
        let p1 = if p1 == p2 { "Sven" } else { p1 };
        let (fact, first, restated, correction, reply, question) = match self.rng.gen_range(0..3) {
            0 => (
                d2.clone(),
                format!("The {x} review is on {d1}."),
                format!("Noted, {x} review on {d1}."),
                format!("Update: the {x} review moved to {d2}."),
                format!("Correction: make that {d2}, the room was taken."),
                format!("When is the {x} review?"),
            ),
            1 => (
                p2.to_owned(),
                format!("{p1} will run the {x} rollout."),
                format!("Great, thanks {p1} for taking the {x} rollout."),
                format!("Change of plan: {p2} runs the {x} rollout now."),
                format!("Change of plan: {p2} takes it over, {p1} is on leave."),
                format!("Who runs the {x} rollout?"),
            ),
            _ => (
                format!("{a2} euros"),
                format!("The {x} quote came in at {a1} euros."),
                format!("{a1} euros for {x} sounds high to me."),
                format!("Revised {x} quote: {a2} euros after the discount."),
                format!("They revised it: {a2} euros after the discount."),
                format!("How much is the {x} quote?"),
            ),
        };
        let m1 = self.say(room, first, None);
        let after = self.order_of(m1);
        let m2 = self.say(room, restated, Some(after));
        let after = self.order_of(m2);
        // Half the corrections are replies that do not name the subject again.
        let as_reply = i % 2 == 1;
        let m3 = self.say(room, if as_reply { reply } else { correction }, Some(after));
        if as_reply {
            self.messages[m3].reply_to = Some(m1);
        }
        self.ask(
            Category::Corrected,
            asker,
            question,
            vec![SourceRef::Message(m3)],
            vec![fact],
        );
    }

    fn add_task(
        &mut self,
        room: usize,
        title: String,
        description: String,
        assignee: Option<usize>,
        due_on: Option<String>,
    ) -> usize {
        let order = self.order_after(None);
        let creator = self.member(room);
        self.tasks.push(Task {
            room,
            creator,
            assignee,
            title,
            description,
            due_on,
            order,
        });
        self.tasks.len() - 1
    }

    fn task(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        let x = self.codename();
        let amount = self.amount();
        let assignee = self.member(room);
        let due = format!(
            "2026-{:02}-{:02}",
            self.rng.gen_range(1..13),
            self.rng.gen_range(1..29)
        );
        let slug = x.to_lowercase();
        let (title, description, assignee, due_on, fact, question) = match self.rng.gen_range(0..4)
        {
            0 => (
                format!("Renew the {x} TLS certificate"),
                format!("The certificate is stored in vault under secret/{slug}/tls."),
                None,
                None,
                format!("secret/{slug}/tls"),
                format!("Where is the {x} certificate stored?"),
            ),
            1 => (
                format!("Fix the {x} export timeout"),
                "Exports over 10k rows time out for some customers.".to_owned(),
                Some(assignee),
                None,
                format!("@{}", self.users[assignee]),
                format!("Who is working on the {x} export timeout?"),
            ),
            2 => (
                format!("Order {x} demo hardware"),
                format!("Approved: {amount} euros, ship it to the Berlin office."),
                None,
                None,
                format!("{amount} euros"),
                format!("How much was approved for the {x} demo hardware?"),
            ),
            _ => (
                format!("Publish the {x} pricing page"),
                String::new(),
                None,
                Some(due.clone()),
                due,
                format!("When is the {x} pricing page due?"),
            ),
        };
        let t = self.add_task(room, title, description, assignee, due_on);
        self.ask(
            Category::Task,
            asker,
            question,
            vec![SourceRef::Task(t)],
            vec![fact],
        );
    }

    /// A message in a task's discussion, after the task was made.
    fn discuss(&mut self, task: usize, body: String) -> usize {
        let room = self.tasks[task].room;
        let after = self.tasks[task].order;
        let m = self.say(room, body, Some(after));
        self.messages[m].task = Some(task);
        m
    }

    fn task_discussion(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        let x = self.codename();
        let p = self.person();
        let day = self.rng.gen_range(2..28);
        let n = self.rng.gen_range(3..40);
        let (title, fact_text, fact, question) = match self.rng.gen_range(0..4) {
            0 => (
                format!("Migrate {x} billing to the new API"),
                format!("Finance says invoices must go out before the {day}th."),
                format!("{day}th"),
                format!("When must the {x} invoices go out?"),
            ),
            1 => (
                format!("Plan the {x} customer webinar"),
                format!("The speaker will be {p}, confirmed this morning."),
                p.to_owned(),
                format!("Who is speaking at the {x} webinar?"),
            ),
            2 => (
                format!("Upgrade the {x} cluster"),
                format!("Maintenance window agreed: Sunday {:02}:00 UTC.", day % 6),
                format!("Sunday {:02}:00", day % 6),
                format!("When is the {x} cluster maintenance window?"),
            ),
            _ => (
                format!("Audit {x} access rights"),
                format!("We found {n} stale accounts, all disabled now."),
                format!("{n} stale accounts"),
                format!("How many stale accounts did the {x} access audit find?"),
            ),
        };
        let t = self.add_task(room, title, String::new(), None, None);
        self.discuss(t, "On it, will report back here.".into());
        let m = self.discuss(t, fact_text);
        self.discuss(t, "Thanks, that helps.".into());
        self.ask(
            Category::TaskDiscussion,
            asker,
            question,
            vec![SourceRef::Message(m)],
            vec![fact],
        );
    }

    fn two_messages(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        let x = self.codename();
        let p = self.person();
        let d = WEEKDAYS[self.rng.gen_range(0..WEEKDAYS.len())];
        let t = self.rng.gen_range(9..18);
        let (gb, cores) = (self.rng.gen_range(2..9) * 8, self.rng.gen_range(2..17));
        let date = self.date();
        let hotel =
            ["Lakeside Inn", "Harbour Hotel", "Pine Lodge", "Old Mill"][self.rng.gen_range(0..4)];
        let (first, second, facts, question) = match self.rng.gen_range(0..3) {
            0 => (
                format!("The {x} demo is on {d} at {t}:00."),
                format!("{p} will present the {x} demo."),
                vec![d.to_owned(), p.to_owned()],
                format!("When is the {x} demo and who presents it?"),
            ),
            1 => (
                format!("{x} needs {gb} GB of RAM per node."),
                format!("{x} also needs {cores} CPU cores per node."),
                vec![format!("{gb} GB"), format!("{cores} CPU")],
                format!("How much RAM and how many CPU cores does {x} need per node?"),
            ),
            _ => (
                format!("The {x} offsite flights are booked for {date}."),
                format!("For the {x} offsite we stay at the {hotel}."),
                vec![date, hotel.to_owned()],
                format!("When do we fly to the {x} offsite and which hotel is it?"),
            ),
        };
        let a = self.say(room, first, None);
        let after = self.order_of(a);
        let b = self.say(room, second, Some(after));
        self.ask(
            Category::TwoMessages,
            asker,
            question,
            vec![SourceRef::Message(a), SourceRef::Message(b)],
            facts,
        );
    }

    fn ambiguous(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        // The second fact goes to another of the asker's rooms when there is one.
        let mine: Vec<usize> = (0..self.rooms.len())
            .filter(|r| *r != room && self.rooms[*r].members.contains(&asker))
            .collect();
        let other = mine.choose(&mut self.rng).copied().unwrap_or(room);
        let x = self.codename();
        let (d1, d2) = self.dates();
        let (h1, h2) = (self.rng.gen_range(10..50), self.rng.gen_range(50..99));
        let (first, second, facts, question) = match self.rng.gen_range(0..2) {
            0 => (
                format!("The {x} web release is on {d1}."),
                format!("The {x} mobile release is on {d2}."),
                vec![d1, d2],
                format!("When is the {x} release?"),
            ),
            _ => (
                format!("The {x} staging database runs on db-{h1}.internal."),
                format!("The {x} production database runs on db-{h2}.internal."),
                vec![format!("db-{h1}"), format!("db-{h2}")],
                format!("Which host runs the {x} database?"),
            ),
        };
        let a = self.say(room, first, None);
        let b = self.say(other, second, None);
        self.ask(
            Category::Ambiguous,
            asker,
            question,
            vec![SourceRef::Message(a), SourceRef::Message(b)],
            facts,
        );
    }

    fn unanswerable(&mut self, i: usize) {
        let (room, asker) = self.room_and_asker(i);
        let x = self.codename();
        let amount = self.amount();
        let question = if i.is_multiple_of(2) {
            // The subject is talked about, the asked-for fact never.
            self.say(
                room,
                format!("Can you also review the {x} launch checklist?"),
                None,
            );
            self.say(
                room,
                format!("Budget for the {x} launch party is {amount} euros."),
                None,
            );
            self.say(
                room,
                format!("The {x} launch announcement draft is ready."),
                None,
            );
            format!("When is the {x} launch date?")
        } else {
            format!("Which port does the {x} service listen on?")
        };
        self.ask(Category::Unanswerable, asker, question, vec![], vec![]);
    }

    fn cross_room(&mut self, i: usize) {
        let room = (i * 5 + 3) % self.rooms.len();
        let outsiders: Vec<usize> = (0..self.users.len())
            .filter(|u| !self.rooms[room].members.contains(u))
            .collect();
        let Some(&asker) = outsiders.choose(&mut self.rng) else {
            return;
        };
        let x = self.codename();
        let amount = self.amount();
        self.say(
            room,
            format!("Confidential: the {x} acquisition price is {amount} euros."),
            None,
        );
        self.questions.push(Question {
            category: Category::CrossRoom,
            asker,
            text: format!("What is the {x} acquisition price?"),
            sources: vec![],
            facts: vec![],
            secrets: vec![amount.to_string()],
        });
    }

    /// Everyday chatter spread over the rooms; some of it uses the facts' kind of words
    /// (launch, budget, port, review) without a subject, as real rooms do.
    fn fill(&mut self, count: usize) {
        for i in 0..count {
            let room = i % self.rooms.len();
            let body = filler(&mut self.rng);
            self.say_anywhere(room, body);
        }
    }

    fn say_anywhere(&mut self, room: usize, body: String) {
        let order = self.rng.gen_range(0..ORDER_SPAN);
        let author = self.member(room);
        self.messages.push(Message {
            room,
            author,
            body,
            order,
            reply_to: None,
            task: None,
        });
    }
}

fn filler(rng: &mut StdRng) -> String {
    chatter(rng, 30)
}

/// Everyday chatter with details filled in, one of the first `cases` (1–30) kinds; the last
/// kind drawn is always the onboarding checklist, so a smaller `cases` (the assistant benchmark
/// keeps its 24) draws exactly what it drew before the list grew.
pub fn chatter(rng: &mut StdRng, cases: i32) -> String {
    let cases = cases.clamp(1, 30);
    let p = PEOPLE[rng.gen_range(0..PEOPLE.len())];
    let n = rng.gen_range(10..9999);
    let d = WEEKDAYS[rng.gen_range(0..WEEKDAYS.len())];
    let t = rng.gen_range(8..18);
    let kind: i32 = rng.gen_range(0..cases);
    match kind {
        k if k == cases - 1 => format!(
            "Updated the onboarding checklist with step {}",
            rng.gen_range(1..20)
        ),
        0 => "Morning all!".into(),
        1 => format!("I'll be {} minutes late to standup", rng.gen_range(5..30)),
        2 => format!("Can someone review PR #{n}? It's small."),
        3 => "Lunch anyone? Thinking noodles.".into(),
        4 => format!("Build {n} is green again, thanks {p}"),
        5 => "thanks!".into(),
        6 => format!("{p}, did you see the email about the all-hands on {d}?"),
        7 => format!("Standup moved to {t}:30 today"),
        8 => format!("I'm out on {d}, back the day after"),
        9 => format!("Pushed a fix for ticket {n}, please retest"),
        10 => "Who has the conference room booked this afternoon?".into(),
        11 => format!("Nice work on the demo, {p}"),
        12 => format!("Reminder: timesheets are due {d}"),
        13 => "Coffee machine on the third floor is broken again".into(),
        14 => format!("Flaky test in module {n} failed twice this morning"),
        15 => format!("{p} is covering support this week"),
        16 => format!(
            "Retro notes are in the shared doc, section {}",
            rng.gen_range(1..9)
        ),
        17 => "Does anyone know why the staging deploy is slow today?".into(),
        18 => format!("Sprint {} planning starts at {t}:00", rng.gen_range(20..80)),
        19 => "+1".into(),
        20 => format!("Merged {n}, will watch the dashboards"),
        21 => format!("Ping me if the alerts fire again, {p}"),
        22 => "Can we keep the meeting to 30 minutes?".into(),
        23 => "The launch checklist template got a new section on rollback.".into(),
        24 => format!("Budget questions go to the finance channel, {p}."),
        25 => format!("Port {n} is blocked on the guest wifi, use the VPN."),
        26 => "Who reviews the release notes this time?".into(),
        27 => format!("The quote from the printer shop was {n} euros, too much."),
        28 => format!("Moved my 1:1 with {p} to {d}."),
        _ => format!(
            "Updated the onboarding checklist with step {}",
            rng.gen_range(1..20)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Corpus {
        generate(Size {
            rooms: 6,
            filler: 600,
            per_category: 8,
            seed: 3,
        })
    }

    /// Content words, crudely stemmed: this test's own notion, not the assistant's.
    fn words(text: &str) -> HashSet<String> {
        const STOP: &[&str] = &[
            "the", "is", "a", "of", "on", "do", "we", "be", "by", "what", "who", "how", "must",
            "from", "now", "for", "much", "day",
        ];
        text.split(|c: char| !c.is_alphanumeric())
            .map(str::to_lowercase)
            .filter(|w| !w.is_empty() && !STOP.contains(&w.as_str()))
            .map(|w| w.chars().take(5).collect())
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_corpus_and_another_seed_another() {
        let (a, b) = (corpus(), corpus());
        assert_eq!(a.messages.len(), b.messages.len());
        assert!(
            a.messages
                .iter()
                .zip(&b.messages)
                .all(|(x, y)| x.body == y.body)
        );
        let c = generate(Size {
            seed: 4,
            ..Size {
                rooms: 6,
                filler: 600,
                per_category: 8,
                seed: 0,
            }
        });
        assert!(
            a.questions
                .iter()
                .zip(&c.questions)
                .any(|(x, y)| x.text != y.text)
        );
    }

    #[test]
    fn every_category_has_its_questions_and_answerable_ones_have_sources_and_facts() {
        let c = corpus();
        for category in Category::ALL {
            let qs: Vec<&Question> = c
                .questions
                .iter()
                .filter(|q| q.category == category)
                .collect();
            assert_eq!(qs.len(), 8, "{category:?}");
            for q in qs {
                assert_eq!(q.sources.is_empty(), !category.answerable(), "{q:?}");
                assert_eq!(q.facts.is_empty(), !category.answerable(), "{q:?}");
            }
        }
    }

    #[test]
    fn facts_are_in_their_sources_and_paraphrases_share_no_word_with_them() {
        let c = corpus();
        for q in &c.questions {
            let text: String = q
                .sources
                .iter()
                .map(|s| match *s {
                    SourceRef::Message(m) => c.messages[m].body.clone(),
                    SourceRef::Task(t) => {
                        let t = &c.tasks[t];
                        let assignee = t.assignee.map(|a| format!("@{}", c.users[a]));
                        format!(
                            "{} {} {:?} {:?}",
                            t.title, t.description, assignee, t.due_on
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            for fact in &q.facts {
                assert!(text.contains(fact.as_str()), "{fact} in {text}");
            }
            if q.category == Category::Paraphrase {
                let shared: Vec<_> = words(&q.text)
                    .intersection(&words(&text))
                    .cloned()
                    .collect();
                assert!(shared.is_empty(), "{shared:?}: {} / {text}", q.text);
            }
        }
    }

    #[test]
    fn corrections_come_after_what_they_correct_and_replies_stay_in_their_room() {
        let c = corpus();
        for m in &c.messages {
            if let Some(parent) = m.reply_to {
                assert_eq!(c.messages[parent].room, m.room);
                assert!(c.messages[parent].order < m.order);
            }
            if let Some(t) = m.task {
                assert_eq!(c.tasks[t].room, m.room);
                assert!(c.tasks[t].order < m.order);
            }
        }
    }

    #[test]
    fn cross_room_askers_are_not_in_the_fact_room_and_askers_are_members() {
        let c = corpus();
        for q in &c.questions {
            let rooms: Vec<usize> = q
                .sources
                .iter()
                .map(|s| match *s {
                    SourceRef::Message(m) => c.messages[m].room,
                    SourceRef::Task(t) => c.tasks[t].room,
                })
                .collect();
            for r in rooms {
                assert!(c.rooms[r].members.contains(&q.asker), "{q:?}");
            }
            if q.category == Category::CrossRoom {
                let secret = format!("acquisition price is {} euros", q.secrets[0]);
                let room = c
                    .messages
                    .iter()
                    .find(|m| m.body.contains(&secret))
                    .unwrap()
                    .room;
                assert!(!c.rooms[room].members.contains(&q.asker));
            }
        }
    }
}
