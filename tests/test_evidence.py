"""Evidence: the sentence window that answers, and the figure or date inside it."""

from __future__ import annotations

from chatbot.evidence import best_window, sentence_match, sentence_spans
from chatbot.query import analyse

PLAN = (
    "（二）下一步工作计划。下步我们将持续引导在温高校深入市场。二是深化要素改革驱动。"
    "坚持改革驱动，全面推广科技成果“先投后股”“先用后转”等成果转化模式。2024年计划建成5家概念验证中心和中试平台。"
)
FUND = (
    "2023年，我市对市本级产业基金体系进行重新规划，明确市科创基金重点对种子期、初创期、成长期科技企业实施投资，"
    "规模从50亿元逐步调整为100亿元，引导更多社会资本参与天使项目投资。"
)
FIRMS = "2023年度新增高新技术企业766家(通过专家评审数)、科技型中小企业2312家(累计17075家),均居全省前3。"


def test_sentence_spans_cut_at_sentence_ends() -> None:
    text = "一是甲。二是乙！三是丙"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["一是甲。", "二是乙！", "三是丙"]


def test_long_sentence_is_also_cut_at_semicolons() -> None:
    text = "甲" * 80 + "；" + "乙" * 80 + "。"
    assert [b - a for a, b in sentence_spans(text)] == [81, 81]


def test_window_is_the_sentence_with_the_figure() -> None:
    window = best_window(analyse("2024年计划建成几家概念验证中心？"), PLAN)
    assert window.text == "2024年计划建成5家概念验证中心和中试平台。"
    assert window.value == "5家"
    assert PLAN[window.value_start : window.value_end] == "5家"
    assert window.missing == ()


def test_figure_after_result_word_wins() -> None:
    assert best_window(analyse("市科创基金的规模调整到了多少？"), FUND).value == "100亿元"


def test_figure_bound_to_the_term_next_to_the_question_word() -> None:
    assert best_window(analyse("科技型中小企业累计有多少家？"), FIRMS).value == "17075家"
    assert best_window(analyse("2023年度新增了多少家高新技术企业？"), FIRMS).value == "766家"


def test_generic_measure_word_accepts_specific_one() -> None:
    assert best_window(analyse("今年要建几个概念验证中心"), PLAN).value == "5家"


def test_attribute_noun_is_answered_by_the_unit() -> None:
    window = best_window(analyse("奔腾激光的激光切割设备功率多大？"), "奔腾激光发布全球首套85000瓦激光切割设备。")
    assert window.value == "85000瓦"
    assert window.missing == ()


def test_percentage_question_does_not_take_a_count() -> None:
    window = best_window(analyse("保费补贴比例是多少？"), "立项科技攻关项目80项以上，对企业给予一定保费补贴。")
    assert window.value is None


def test_table_cell_takes_unit_from_header() -> None:
    text = "地区｜改造企业（家）\n鹿城区｜320\n瓯海区｜280"
    window = best_window(analyse("鹿城区改造了多少家企业？"), text)
    assert (window.text, window.value) == ("鹿城区｜320", "320家")  # the bare cell takes the header's 家


def test_ordinal_and_ratio_values() -> None:
    assert best_window(analyse("年度完成率排全省第几？"), "年度完成率全省第1,其中……").value == "第1"
    ratio = best_window(analyse("风险池资金撬动银行贷款放大多少倍"), "风险池资金2亿元，合作银行按1:10放大发放贷款。")
    assert ratio.value == "1:10"


def test_abbreviation_matches_the_full_name() -> None:
    text = "融资担保机构服务小微企业和个体工商户1.2万户，担保费率降至0.8%。"
    window = best_window(analyse("融资担保服务了多少小微企业和个体户"), text)
    assert window.missing == ()
    assert window.value == "1.2万户"


def test_date_question_takes_the_date_bound_to_its_terms() -> None:
    fund = "截至2024年4月底，市科创基金注册设立子基金 20支。2023年，我市对市本级产业基金体系进行重新规划。"
    assert best_window(analyse("市科创基金子基金截至什么时候"), fund).value == "2024年4月底"
    assert best_window(analyse("概念验证中心计划什么时候建成"), PLAN).value == "2024年"


def test_year_not_in_passage_is_flagged() -> None:
    window = best_window(analyse("2025年计划建成几家概念验证中心？"), PLAN)
    assert not window.years_ok


def test_missing_noun_is_reported() -> None:
    window = best_window(analyse("温州市的人口有多少？"), FUND)
    assert "人口" in window.missing


def test_heading_line_alone_is_never_the_quote() -> None:
    heading = "四、关于“借鉴先进地区经验成立温州科技成果转化基金”的建议 › （一）工作进展"
    text = "四、关于“借鉴先进地区经验成立温州科技成果转化基金”的建议\n（一）工作进展。近年来，我市打造了产业基金体系。"
    window = best_window(analyse("有没有成立科技成果转化基金"), text, heading=heading)
    assert window.text == "近年来，我市打造了产业基金体系。"


def test_heading_supplies_terms() -> None:
    window = best_window(analyse("下一步要推广哪些成果转化模式？"), PLAN, heading="二、… › （二）下一步工作计划")
    assert "先投后股" in window.text


# Letters of one city share their wording: what tells two statements apart is which place, year and
# subject stand with the figure, and whether it is a result or a plan.
def test_a_term_after_the_figure_belongs_to_the_next_statement() -> None:
    question = analyse("2018年给瑞安市的农村公路养护资金有多少钱？")
    neighbour = best_window(question, "2018年市财政为龙湾区安排农村公路养护资金37.17亿元，"
                                      "2015年市财政为瑞安市安排乡村振兴专项资金34.47亿元。")
    own = best_window(question, "2018年市财政为瑞安市安排农村公路养护资金7.16亿元。")
    assert own.value == "7.16亿元"
    assert neighbour.value == "37.17亿元"  # the figure of 2018: 34.47亿元 is dated 2015
    assert own.score - neighbour.score > 0.1


def test_the_subject_of_a_sentence_carries_to_its_later_figures_unless_they_have_their_own_year() -> None:
    question = analyse("市科创基金投资了多少钱")
    carried = best_window(question, "截至2024年4月底，市科创基金注册设立子基金20支，累计投资项目94个，"
                                    "投资金额17.44亿元。")
    separate = best_window(question, "2023年，市科创基金注册设立子基金20支，2024年投资金额17.44亿元。")
    assert carried.value == separate.value == "17.44亿元"
    assert carried.missing == separate.missing == ()
    assert carried.score - separate.score > 0.2  # in `separate` the figure is a statement of its own


def test_a_plan_is_not_the_answer_to_a_question_about_results_nor_the_reverse() -> None:
    plan, plan_head = "2022年苍南县计划新认定数字化车间1530个。", "三、关于“数字化改造”的建议 › （二）下一步工作计划"
    done, done_head = "2022年苍南县建成数字化车间2321个。", "三、关于“数字化改造”的建议 › （一）工作进展"
    asked_done = analyse("2022年苍南县建好了多少个数字化车间？")
    asked_plan = analyse("苍南县2022年打算建成多少个数字化车间？")
    assert best_window(asked_done, done, done_head).score > best_window(asked_done, plan, plan_head).score + 0.15
    assert best_window(asked_plan, plan, plan_head).score > best_window(asked_plan, done, done_head).score + 0.15


def test_a_rate_is_answered_by_a_percentage() -> None:
    window = best_window(analyse("到2017年底浙南产业集聚区的高标准农田占比是多少？"),
                         "2017年浙南产业集聚区累计培育高标准农田828万亩，截至2017年底，浙南产业集聚区高标准农田占比达到37.6%。")
    assert window.value == "达到37.6%"
    assert best_window(analyse("公交分担率是多少？"), "新增公交线路12条，公交分担率达到31.5%。").value == "达到31.5%"


def test_sentence_match_is_the_best_single_sentence() -> None:
    question = analyse("2022年苍南县新增了多少个数字化车间？")  # terms 苍南县, 新增, 数字化, 车间 and the year
    together = "2022年苍南县新增数字化车间12个。其他工作。"
    apart = "2022年苍南县新增公交线路5条。瑞安市新增数字化车间12个。"
    assert sentence_match(question, together) == 1.0
    assert sentence_match(question, apart) < 0.75
    assert sentence_match(question, apart, heading="苍南县 › 数字化车间") > sentence_match(question, apart)


def test_a_statement_opening_with_its_own_place_does_not_take_the_place_before_it() -> None:
    question = analyse("平阳县的市科技创新综合体什么时候能建成投用？")
    neighbour = best_window(question, "2022年平阳县计划新增社区卫生服务站2344家，"
                                      "鹿城区市科技创新综合体计划于2020年10月底前建成投用。")
    own = best_window(question, "平阳县市科技创新综合体计划于2023年1月底前建成投用。")
    assert (own.value, neighbour.value) == ("2023年1月底前", "2020年10月底前")  # as the letter words it
    assert own.score - neighbour.score > 0.1


def test_a_tab_separated_row_answers_from_the_column_the_question_names() -> None:
    text = ("县（市）\t乡镇卫生院（个）\t基层就诊率\t家庭医生签约覆盖率\n"
            "永嘉县\t22\t68.4%\t47.1%\n文成县\t17\t71.3%\t52.7%")
    window = best_window(analyse("文成县基层就诊率是多少？"), text)
    assert (window.text, window.value) == ("文成县\t17\t71.3%\t52.7%", "71.3%")
    assert best_window(analyse("文成县有几个乡镇卫生院？"), text).value == "17个"


def test_a_row_gives_no_date_when_no_column_is_the_one_asked() -> None:
    text = "序号｜项目名称｜计划完成时间\n1｜岩头镇中心卫生院迁建工程｜2025年6月"
    assert best_window(analyse("岩头镇中心卫生院迁建工程什么时候完成？"), text).value == "2025年6月"
    assert best_window(analyse("岩头镇中心卫生院迁建工程什么时候开工？"), text).value is None


def test_clock_times_and_spans_are_dates() -> None:
    night = "我局规定，居民区周边工地夜间施工时段为晚上11点至次日6时，确需连续作业的须提前报批。"
    assert best_window(analyse("夜间施工时段是几点到几点？"), night).value == "晚上11点至次日6时"
    parking = "该路段每日18时至次日7时30分禁止停放车辆。"
    assert best_window(analyse("该路段什么时候禁止停车？"), parking).value == "18时至次日7时30分"


def test_a_question_about_the_whole_is_answered_by_the_total_row() -> None:
    table = "表1 各市培训情况\n地区\t培训人数（人）\n甲市\t1200\n乙市\t800\n合计\t2000"
    window = best_window(analyse("全省一共培训了多少人？"), table)
    assert (window.text, window.value) == ("合计\t2000", "2000人")
    assert best_window(analyse("乙市培训了多少人？"), table).value == "800人"


def test_a_two_character_short_form_matches_its_full_name() -> None:
    text = "2023年，县法律援助中心共办理法律援助案件326件，挽回经济损失580万元。"
    window = best_window(analyse("法援中心去年办了多少件案子？"), text)
    assert (window.value, window.missing) == ("326件", ())


def test_a_change_on_last_year_is_answered_by_the_change_not_the_level() -> None:
    text = "2023年全县粮食总产量达到42.6万吨，比上年增长3.2%。"
    assert best_window(analyse("粮食产量比上年增长了多少？"), text).value == "3.2%"
    assert best_window(analyse("粮食总产量是多少？"), text).value == "达到42.6万吨"  # the qualifier stays


def test_approximate_amounts_and_ratios_are_values() -> None:
    assert best_window(analyse("项目总投资多少钱？"), "该项目总投资1.2万余元。").value == "1.2万余元"
    assert best_window(analyse("师生比是多少？"), "目前全县中小学师生比为13.5:1，高于全省平均水平。").value == "13.5:1"


def test_one_item_of_a_list_counted_together_gets_no_figure() -> None:
    text = "为试点地区乡镇卫生院配备智能舌诊仪、脉诊仪等设备3200余台套。"
    assert best_window(analyse("舌诊仪有多少台？"), text).missing == ("舌诊仪",)
    assert best_window(analyse("配了多少台舌诊仪、脉诊仪等设备？"), text).value == "3200余台"
    shared = "2023年新建、改造学生宿舍12.4万平方米。"  # the last item holds the noun both verbs share
    assert best_window(analyse("改造了多少平方米学生宿舍？"), shared).value == "12.4万平方米"


def test_a_part_asked_of_a_whole_is_not_answered_by_the_whole() -> None:
    text = "全省普惠小微贷款余额3862亿元，同比增长24.6%。"
    assert "涉农" in best_window(analyse("普惠小微贷款里涉农的有多少"), text).missing


def test_people_counted_by_ge_are_answered_by_ming() -> None:
    text = "聘请企业家、律师、退休法官等特邀调解员36名。"
    assert best_window(analyse("请了几个特邀调解员"), text).value == "36名"


def test_a_fee_is_answered_by_money_and_a_rate_by_its_period() -> None:
    text = "统筹使用人防易地建设费，2016年安排1200万元新建公共人防停车场2处。"
    assert best_window(analyse("人防易地建设费安排了多少？"), text).value == "1200万元"
    care = "为412名居家重度残疾人提供上门照护，每人每年补助1800元。"
    assert best_window(analyse("上门照护每人每年补助多少钱？"), care).value == "1800元"
    assert best_window(analyse("上门照护一个月补助多少钱？"), care).value is None


def test_a_place_listed_with_others_apart_from_the_figure_gets_no_figure() -> None:
    text = "全县共有农村留守儿童6842名，主要集中在白沙镇、龙塘乡、茶溪乡3个乡镇。"
    assert "茶溪" in best_window(analyse("茶溪乡有多少留守儿童"), text).missing
    assert best_window(analyse("全县有多少留守儿童"), text).value == "6842名"


def test_visits_are_not_people_and_a_word_is_not_a_measure() -> None:
    assert best_window(analyse("服务了多少人次留守儿童"), "计划结对留守儿童300名。").value is None
    text = "我局会同国家卫生健康委等10部门印发行动计划，推动社区卫生服务站设置中医阁。"
    assert best_window(analyse("中医阁建了多少个"), text).value is None


def test_this_year_is_the_letters_year() -> None:
    text = "在全省设立首贷服务中心92个，2021年帮助1.3万户企业获得首笔贷款。"
    assert best_window(analyse("首贷服务中心今年帮了多少户企业"), text, year=2022).value is None
    assert best_window(analyse("首贷服务中心今年帮了多少户企业"), text, year=2021).value == "1.3万户"
    fire = "今年清明期间，劝返携带火种人员1900余人次，查处违规野外用火案件14起。"  # 1900 is no year
    assert best_window(analyse("今年清明查处了几起违规野外用火？"), fire, year=2024).value == "14起"


def test_a_cell_that_says_its_own_unit_answers() -> None:
    table = ("项目名称｜建设主体｜房源数量｜租金标准｜状态\n"
             "江湾人才公寓｜区城投集团｜860套｜每月18元/平方米｜已交付\n"
             "高新区员工宿舍｜松岭高新区管委会｜1200间｜每月450元/间｜已交付")
    assert best_window(analyse("江湾人才公寓有多少套？"), table).value == "860套"
    assert best_window(analyse("高新区员工宿舍一间多少钱一个月？"), table).value == "每月450元/间"


def test_a_word_jieba_cut_across_is_not_missing() -> None:
    text = '县财政每年安排资金180万元，为全县农村户籍人口统一购买"防贫保"商业保险。'
    window = best_window(analyse("县财政每年买防贫保花多少钱？"), text)
    assert (window.value, window.missing) == ("180万元", ())


def test_people_asked_without_a_measure_word_are_counted_in_people() -> None:
    text = "全市已有28432名女孩完成首剂接种，首剂接种率为87.6%，覆盖13至14周岁在校女孩。"
    assert best_window(analyse("有多少女孩打了第一针？"), text).value == "28432名"


def test_near_misses_of_what_a_figure_counts() -> None:
    assert best_window(analyse("第二批清单有多少个产品？"),
                       "第二批清单产品保护工作正在推进，目前已有244个我国地理标志在欧盟获得保护。").value == "244个"
    assert best_window(analyse("一共开过多少次会？"), "关于市政协十届三次会议第0203号提案的答复").value is None
    pilot = "2025年对15至16周岁女孩开展自愿接种补助试点，每剂补助200元。"
    assert best_window(analyse("补助试点总共准备多少钱？"), pilot).value is None
    total = "截至2023年底，累计认定地理标志产品2508个。"
    assert best_window(analyse("2023年新认定了多少个地理标志产品？"), total).value is None
    assert best_window(analyse("累计认定了多少个地理标志产品？"), total).value == "2508个"
    budget = "2023年市级财政安排资金520万元，社会爱心企业捐赠AED 136台。"
    assert not best_window(analyse("一台AED多少钱？"), budget).qualifiers_ok


def test_a_figure_of_one_place_or_of_a_list_summed() -> None:
    area = "烟叶种植主要分布在南岭、西川两市，其中南岭市种植面积21.3万亩。"
    assert best_window(analyse("西川市烟叶种植面积多少？"), area).missing == ("西川",)
    assert best_window(analyse("南岭市烟叶种植面积多少？"), area).value == "21.3万亩"
    ports = "现有指定监管场地3个，分别位于东陵机场、凤溪港南港区和平川铁路口岸，2023年共验放进口水果12.6万吨。"
    assert "平川" in best_window(analyse("平川铁路口岸2023年验放了多少吨水果？"), ports).missing
    assert best_window(analyse("东陵2023年验放了多少吨进口水果？"), ports).value == "12.6万吨"


def test_a_why_question_is_answered_by_the_reason() -> None:
    text = ("经调查，全市具备光伏安装条件的公共机构屋顶面积约46万平方米。"
            "但部分老旧建筑屋顶承重不足、部分文物保护建筑不允许改造，难以全部安装光伏。")
    assert "承重不足" in best_window(analyse("公共机构屋顶为啥不能全装光伏？"), text).text


def test_the_units_a_reply_was_worked_out_with_are_quoted_from_its_opening() -> None:
    text = "您提出的关于加强地理标志保护的提案收悉。经商农业农村部、国家市场监督管理总局，现答复如下："
    window = best_window(analyse("国知局答复这个提案前商量了哪些部门？"), text, identity="国家知识产权局|国知局")
    assert "经商农业农村部、国家市场监督管理总局" in window.text and window.missing == ()


def test_a_per_unit_question_needs_a_per_unit_figure_and_the_whole_a_figure_of_the_whole() -> None:
    text = "2023年，中央财政安排油茶低产林改造补助资金43.6亿元，对新造油茶林每亩补助标准提高到1000元。"
    assert best_window(analyse("油茶新造林每亩补助多少钱？"), text).value == "1000元"
    fund = "中央财政对每个试点城市给予定额奖补，奖补资金最高不超过1.5亿元。"
    assert best_window(analyse("每个城市最多奖补多少？"), fund).value == "1.5亿元"  # not 超过: 不超过
    rescue = "全市已建成院前急救站点128个，其中山区5县有56个，2023年山区县急救平均反应时间缩短至15.6分钟。"
    assert "全市" in best_window(analyse("全市急救平均反应时间是多少分钟？"), rescue).missing


def test_near_misses_of_held_out_6() -> None:
    assert best_window(analyse("144小时过境免签有几个城市？"),
                       "72/144小时过境免签政策已在23个城市的37个口岸实施。").value == "23个"
    plan = "2024年我局计划再新建口袋公园8个，重点布局在老城区。"
    assert best_window(analyse("今年新口袋公园已经建成几个了？"), plan).value is None
    assert best_window(analyse("今年计划新建几个口袋公园？"), plan).value == "8个"
    new = "联合省发展改革委开展首贷户拓展三年行动，2023年全省新增首贷户2.3万户。"
    assert best_window(analyse("全省累计有多少首贷户？"), new).value is None
    other = "经与市财政局共同研究，全部上缴不利于企业偿还债务，该项建议暂不采纳。"
    assert "财政局" in best_window(analyse("市财政局对利润全部上缴的建议是怎么答复的？"), other,
                                   identity="鹭江市国资委|国资委").missing


def test_a_half_width_period_between_chinese_ends_a_sentence() -> None:
    text = "全县规模养殖比重达到78%,较2021年提高11个百分点.杨村乡是全县第一大乡,2023年出栏生猪9.6万头."
    assert [text[a:b] for a, b in sentence_spans(text)][-1] == "杨村乡是全县第一大乡,2023年出栏生猪9.6万头."
    assert best_window(analyse("杨村乡2023年出栏了多少头猪？"), text).value == "9.6万头"


def test_the_units_a_question_names_the_way_people_do() -> None:
    from chatbot.names import unit_names

    assert {"药监局", "国家药监局"} <= unit_names("国家药品监督管理局")
    assert {"城投", "城投集团"} <= unit_names("鹭江城市建设投资集团")
    assert analyse("“急救一张图”平台投了多少钱？").qualifiers == ()  # 一张图 is a name, not a per-unit price
