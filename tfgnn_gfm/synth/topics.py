"""Latent topics of the synthetic platform and the words that express them.

Every topic has a genre and a bag of words; titles and descriptions are written
from these words, so a sentence encoder can recover the topic from an item's
text alone (the paper's LLM featurisation has signal to find).
"""

from __future__ import annotations

# topic name -> (genre, words). Several topics share a genre, so genre
# metadata is a coarser signal than the text.
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ancient_history": ("history", (
        "empire", "rome", "pharaoh", "legion", "ancient", "temple", "emperor",
        "gladiator", "dynasty", "ruins", "senate", "conquest")),
    "modern_history": ("history", (
        "revolution", "war", "cold war", "soldiers", "treaty", "resistance",
        "dictator", "century", "archive", "veterans", "independence", "spies")),
    "true_crime": ("crime", (
        "murder", "detective", "investigation", "suspect", "evidence", "trial",
        "missing", "killer", "forensic", "cold case", "witness", "verdict")),
    "mystery_fiction": ("crime", (
        "mystery", "inspector", "secret", "manor", "clue", "poison", "alibi",
        "locked room", "butler", "village", "disappearance", "riddle")),
    "space_science": ("science", (
        "galaxy", "planet", "astronaut", "telescope", "black hole", "orbit",
        "rocket", "cosmos", "mars", "star", "universe", "gravity")),
    "biology": ("science", (
        "evolution", "cells", "genes", "species", "ocean life", "brain",
        "microbes", "forest", "animals", "dna", "ecosystem", "fossils")),
    "personal_finance": ("business", (
        "money", "investing", "budget", "savings", "stocks", "retirement",
        "debt", "wealth", "markets", "taxes", "portfolio", "income")),
    "startups": ("business", (
        "founder", "startup", "venture capital", "product", "growth",
        "entrepreneur", "pitch", "scale", "leadership", "innovation",
        "company", "strategy")),
    "fantasy": ("fiction", (
        "dragon", "kingdom", "magic", "sword", "quest", "wizard", "prophecy",
        "elves", "throne", "sorcery", "realm", "enchanted")),
    "romance": ("fiction", (
        "love", "heart", "wedding", "summer", "kiss", "letters", "romance",
        "passion", "reunion", "desire", "promise", "forever")),
    "football": ("sports", (
        "football", "league", "goal", "striker", "champions", "transfer",
        "coach", "derby", "stadium", "season", "tactics", "cup")),
    "fitness": ("health", (
        "workout", "running", "strength", "nutrition", "marathon", "yoga",
        "training", "muscles", "endurance", "sleep", "recovery", "habits")),
    "comedy": ("comedy", (
        "jokes", "funny", "laughs", "stand-up", "sketch", "improv", "banter",
        "hilarious", "satire", "pranks", "sitcom", "comedians")),
    "cooking": ("lifestyle", (
        "recipes", "kitchen", "baking", "chef", "bread", "spices", "dinner",
        "vegetables", "pasta", "flavour", "dessert", "restaurant")),
    "music_culture": ("music", (
        "album", "band", "guitar", "jazz", "concert", "songwriter", "hip hop",
        "vinyl", "orchestra", "rhythm", "tour", "producer")),
    "philosophy": ("society", (
        "ethics", "meaning", "stoic", "mind", "freedom", "justice", "truth",
        "consciousness", "virtue", "happiness", "reason", "existence")),
}

PODCAST_TITLES = (
    "The {A} {B} Show", "{A} & {B} Weekly", "Inside {A}", "{A} Talk",
    "All About {B}", "The {A} Hour", "{A} Stories", "Deep Dive: {B}")
AUDIOBOOK_TITLES = (
    "The {A} of {B}", "A {A} {B}", "{A}: A Novel", "The Last {B}",
    "Beyond the {A}", "{A} and the {B}", "Chronicles of {B}",
    "The Book of {A}")
EPISODE_TITLES = (
    "Ep. {n}: {A} and {B}", "Episode {n} - The {A} Question",
    "#{n} {A}, {B} and more", "Ep. {n}: Why {A} matters")
DESCRIPTIONS = (
    "A {kind} about {a}, {b} and {c}.",
    "Join us for conversations on {a} and {b}. This week: {c}.",
    "Everything you wanted to know about {a}: {b}, {c} and {d}.",
    "An unforgettable {kind} of {a} and {b}, full of {c}.",
    "From {a} to {b}: a {kind} that explores {c} and {d}.",
)
KIND_WORDS = {"podcast": "show", "audiobook": "story", "episode": "episode"}

COUNTRIES = ("US", "GB", "DE", "ES", "SE", "MX", "BR", "IN")
COUNTRY_LANGUAGE = {"US": "en", "GB": "en", "DE": "de", "ES": "es", "SE": "sv",
                    "MX": "es", "BR": "pt", "IN": "en"}
LANGUAGES = ("en", "de", "es", "sv", "pt")
AGE_BUCKETS = ("18-24", "25-34", "35-44", "45-54", "55+")
