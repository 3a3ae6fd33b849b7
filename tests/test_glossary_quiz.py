"""Tests for course_lib.lessons.glossary and the 10 quiz (course_lib.exercises.ch10_quiz)."""
from __future__ import annotations

import re
import unicodedata

import pytest

from course_lib import lessons
from course_lib.exercises import ch10_quiz as quiz
from course_lib.lessons import glossary
from course_lib.lessons import quiz as quiz_bank

CJK = re.compile(r"[\u4e00-\u9fff]")


# --------------------------------------------------------------------------- glossary


def test_glossary_has_the_required_terms_with_standard_translations():
    required = {
        "generative model": "生成模型",
        "variational autoencoder (VAE)": "变分自编码器",
        "generative adversarial network (GAN)": "生成对抗网络",
        "evidence lower bound (ELBO)": "证据下界",
        "reparameterization trick": "重参数化技巧",
        "mode collapse": "模式崩溃",
        "latent variable": "隐变量",
        "Kullback-Leibler (KL) divergence": "KL散度",
        "discriminator": "判别器",
        "generator": "生成器",
    }
    by_english = {t.english: t.chinese for t in glossary.TERMS}
    for english, chinese in required.items():
        assert by_english[english] == chinese
    assert len(glossary.TERMS) >= 30


def test_every_entry_is_complete_and_unique():
    english = [t.english.casefold() for t in glossary.TERMS]
    chinese = [t.chinese for t in glossary.TERMS]
    assert len(set(english)) == len(english)
    assert len(set(chinese)) == len(chinese)
    for t in glossary.TERMS:
        assert t.english.strip() and t.definition.strip()
        assert CJK.search(t.chinese), t  # the Chinese column is Chinese
        assert not CJK.search(t.english + t.definition), t  # the English columns are not
        assert t.notebook in lessons.NOTEBOOKS
        assert all(CJK.search(v) for v in t.variants)
        assert t.definition.rstrip().endswith(".")


def test_lookup_finds_english_abbreviation_chinese_and_variants():
    assert glossary.lookup("ELBO").chinese == "证据下界"
    assert glossary.lookup("evidence lower bound").chinese == "证据下界"
    assert glossary.lookup("  Evidence   Lower Bound (ELBO) ").chinese == "证据下界"
    assert glossary.lookup("证据下界").english == "evidence lower bound (ELBO)"
    assert glossary.lookup("模式坍塌").english == "mode collapse"  # a variant
    assert glossary.lookup("KL divergence").chinese == "KL散度"
    assert glossary.lookup("non saturating loss").english == "non-saturating loss"


def test_lookup_unknown_term_suggests_close_matches():
    with pytest.raises(KeyError, match="did you mean 'mode collapse'"):
        glossary.lookup("mode colapse")
    with pytest.raises(KeyError, match="no glossary entry for 'quantum annealing'"):
        glossary.lookup("quantum annealing")


@pytest.mark.parametrize("bad, err", [(3, TypeError), (None, TypeError), ("", ValueError), ("  ", ValueError)])
def test_lookup_and_search_reject_bad_input(bad, err):
    with pytest.raises(err, match="term"):
        glossary.lookup(bad)
    with pytest.raises(err, match="text"):
        glossary.search(bad)


def test_search_matches_definitions_too():
    found = {t.english for t in glossary.search("discriminator")}
    assert {"discriminator", "generative adversarial network (GAN)", "Jensen-Shannon (JS) divergence"} <= found
    assert glossary.search("no such words here") == []


def test_markdown_table_has_one_row_per_term_and_links():
    md = glossary.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "| English | 中文 | Meaning | Taught in |"
    assert len(lines) == 2 + len(glossary.TERMS)
    assert all(line.count(" | ") == 3 for line in lines[2:])  # no stray pipe splits a row
    assert "| mode collapse | 模式崩溃 (模式坍塌, 模式坍缩) |" in md
    assert "[04 The VAE](04_vae.ipynb)" in md
    plain = glossary.to_markdown(glossary.TERMS[:2], link=False)
    assert plain.count("\n") == 3 and ".ipynb" not in plain


def test_markdown_escapes_pipes_and_rejects_non_terms():
    term = glossary.Term("a|b", "甲", "x | y.", "04_vae")
    row = glossary.to_markdown([term]).splitlines()[-1]
    assert row.startswith("| a\\|b | 甲 | x \\| y. |")
    with pytest.raises(TypeError, match=r"terms\[0\]"):
        glossary.to_markdown(["generative model"])
    with pytest.raises(TypeError, match="link"):
        glossary.to_markdown(link="yes")


def test_glossary_covers_the_vocabulary_of_05_to_07_and_the_new_sections():
    # The review of 05-08 (finding 41) listed these terms as missing; each must be found in both languages.
    pairs = {
        "dequantization": "去量化", "coupling layer": "耦合层", "Jacobian determinant": "雅可比行列式",
        "change of variables formula": "变量替换公式", "forward process": "前向过程", "reverse process": "反向过程",
        "noise schedule": "噪声调度", "score function": "分数函数", "score matching": "分数匹配",
        "guidance": "引导", "classifier-free guidance": "无分类器引导", "latent diffusion model": "潜在扩散模型",
        "flow matching": "流匹配", "attention mechanism": "注意力机制", "FID": "弗雷歇初始距离",
        "bits per dimension": "每维比特数", "importance sampling": "重要性采样", "gradient penalty": "梯度惩罚",
        "Wasserstein distance": "Wasserstein距离", "Fréchet distance": "弗雷歇距离",
        "precision (of a generative model)": "精确率", "recall (of a generative model)": "召回率",
        "mode (of a distribution)": "模态", "Transformer": "Transformer模型",
    }
    for english, chinese in pairs.items():
        assert glossary.lookup(english).chinese == chinese, english
        assert glossary.lookup(chinese) == glossary.lookup(english)
    # The common variants of finding 42.
    for variant, english in {"最小最大博弈": "minimax game", "模式坍缩": "mode collapse",
                             "重参数技巧": "reparameterization trick", "生成式模型": "generative model",
                             "判别式模型": "discriminative model", "推土机距离": "Wasserstein distance"}.items():
        assert glossary.lookup(variant).english == english
    assert glossary.lookup("Fréchet distance").notebook == "05_gan"  # first taught in 05, section 8


def test_chinese_text_is_normalised_unicode():
    for t in glossary.TERMS:
        for text in (t.chinese, *t.variants):
            assert unicodedata.normalize("NFC", text) == text


# --------------------------------------------------------------------------- quiz


def _right_answers():
    return {name: q.correct for name, q in quiz.QUESTIONS.items()}


def test_quiz_questions_are_well_formed():
    assert len(quiz.QUESTIONS) >= 8
    for name, q in quiz.QUESTIONS.items():
        assert q.correct in q.choices
        assert set(q.why_wrong) == set(q.choices) - {q.correct}, name  # every wrong choice explained
        assert q.notebook in lessons.NOTEBOOKS
    assert len({q.correct for q in quiz.QUESTIONS.values()}) >= 3  # the right letter varies


def test_quiz_answer_key_cannot_be_gamed():
    # Review 05-08, finding 44: the key was c, c, b, b, c, b, b, a, b, c (never d). Every letter must now
    # be right for at least 3 questions, none for more than 40% of them, and no letter twice in a row.
    letters = [q.correct for q in quiz.QUESTIONS.values()]
    counts = {letter: letters.count(letter) for letter in "abcd"}
    assert min(counts.values()) >= 3 and max(counts.values()) <= 0.4 * len(letters), counts
    assert all(a != b for a, b in zip(letters, letters[1:])), letters
    # Always answering one letter scores at most 40%.
    for letter in "abcd":
        assert sum(q.correct == letter for q in quiz.QUESTIONS.values()) <= 0.4 * len(quiz.QUESTIONS)


def test_quiz_covers_07_and_evaluation():
    notebooks = {q.notebook for q in quiz.QUESTIONS.values()}
    assert "07_beyond" in notebooks and {"exact_likelihood", "dequantization", "diffusion_cost",
                                         "precision_recall"} <= set(quiz.QUESTIONS)


def test_moving_the_right_answer_keeps_every_explanation():
    q = quiz.Question("p?", {"a": "A", "b": "B", "c": "C", "d": "D"}, "b", "B is right.",
                      {"a": "not A", "c": "not C", "d": "not D"}, "05_gan")
    moved = quiz_bank._answer_at("d", q)
    assert moved.correct == "d" and moved.choices == {"a": "A", "b": "D", "c": "C", "d": "B"}
    assert moved.why_wrong == {"a": "not A", "b": "not D", "c": "not C"}
    assert quiz_bank._answer_at("b", q) == q
    with pytest.raises(ValueError, match="letter"):
        quiz_bank._answer_at("e", q)


def test_quiz_output_format_for_the_answer_key(capsys):
    right = quiz.check_quiz(_right_answers)
    out = capsys.readouterr().out
    assert right == len(quiz.QUESTIONS)
    assert out.count("✅") == len(quiz.QUESTIONS) and "❌" not in out
    assert out.rstrip().endswith(f"Score: {right} / {right}")


def test_quiz_rejects_a_wrong_answer_with_its_reason(capsys):
    answers = _right_answers()
    answers["gan_year"] = "a"  # the article's 1980s
    right = quiz.check_quiz(lambda: answers)
    out = capsys.readouterr().out
    assert right == len(quiz.QUESTIONS) - 1
    assert "❌ gan_year: 'a' is not right. Boltzmann machines are from the 1980s" in out


def test_quiz_partial_and_unimplemented_answers(capsys):
    assert quiz.check_quiz(lambda: {"svm": "b", "gan_year": ...}) == 0
    out = capsys.readouterr().out
    assert "unknown question names ['svm']" in out
    assert out.count("⏳") == len(quiz.QUESTIONS)

    def not_done():
        raise NotImplementedError

    assert quiz.check_quiz(not_done) == 0
    assert "not answered yet" in capsys.readouterr().out
    assert quiz.check_quiz(lambda: ["c"]) == 0
    assert "expected a dict" in capsys.readouterr().out
    assert quiz.check_quiz(lambda: 1 / 0) == 0
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_single_answers_and_bad_names(capsys):
    assert quiz.check_answer("reparam", "B")  # case-insensitive
    assert not quiz.check_answer("reparam", "e")
    assert "is not one of the options" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no quiz question 'nope'"):
        quiz.check_answer("nope", "a")
    with pytest.raises(TypeError, match="answers_fn"):
        quiz.check_quiz(_right_answers())


def test_show_quiz_prints_every_question(capsys):
    quiz.show_quiz()
    out = capsys.readouterr().out
    for i, name in enumerate(quiz.QUESTIONS, start=1):
        assert f"{i}. [{name}]" in out
    assert quiz.question_text("kl").splitlines()[1].startswith("   a) ")
