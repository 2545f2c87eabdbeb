"""Demo data: `flask --app wsgi seed-demo` makes a catalog to try, and changes nothing twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import insert, select

from app.extensions import db
from app.models import (
    FAQ,
    Coupon,
    CouponKind,
    Course,
    CourseCategory,
    CourseChapter,
    CourseDetail,
    CourseSection,
    DegreeCourse,
    PricePolicy,
    Product,
    SectionType,
    Teacher,
    degree_course_courses,
)
from app.models.types import utcnow
from app.services.accounts import create_user, find_user
from app.services.demo_media import ensure_demo_lessons

COVERS = "/static/img/covers"
AVATARS = "/static/img/teachers"
VIDEO_HOST = "https://video.example.com"  # never fetched: the demo has no real videos

# name, name_en, cover
CATEGORIES = (
    ("Python", "Python", "python.svg"),
    ("Linux 运维", "Linux Ops", "linux.svg"),
    ("前端", "Front-end", "frontend.svg"),
    ("Go", "Go", "go.svg"),
    ("数据分析", "Data Analysis", "data.svg"),
    ("人工智能", "Artificial Intelligence", "ai.svg"),
)

# Lecturers teach courses; mentors guide degree-course students.
TEACHERS: tuple[dict[str, str], ...] = (
    {
        "name": "林晓峰",
        "role": "lecturer",
        "title": "Python 技术专家",
        "signature": "代码是写给人看的",
        "avatar": "avatar-1.svg",
        "brief": "十年 Python 开发经验，曾负责千万级用户平台的后端架构。",
    },
    {
        "name": "王嘉怡",
        "role": "lecturer",
        "title": "资深前端架构师",
        "signature": "好的界面不需要说明书",
        "avatar": "avatar-2.svg",
        "brief": "主导过多个大型中后台与移动端项目，关注工程化与性能。",
    },
    {
        "name": "陈思远",
        "role": "lecturer",
        "title": "SRE 负责人",
        "signature": "能自动化的绝不手动",
        "avatar": "avatar-3.svg",
        "brief": "十年运维经验，熟悉 Linux、容器与大规模集群的稳定性建设。",
    },
    {
        "name": "赵明轩",
        "role": "lecturer",
        "title": "Go 语言工程师",
        "signature": "少即是多",
        "avatar": "avatar-4.svg",
        "brief": "分布式系统工程师，开源 Go 项目维护者。",
    },
    {
        "name": "刘雨桐",
        "role": "lecturer",
        "title": "数据科学家",
        "signature": "让数据讲故事",
        "avatar": "avatar-2.svg",
        "brief": "擅长用户增长分析与数据可视化，为多家企业搭建数据平台。",
    },
    {
        "name": "周子航",
        "role": "lecturer",
        "title": "算法研究员",
        "signature": "从第一性原理出发",
        "avatar": "avatar-1.svg",
        "brief": "专注自然语言处理与大模型应用，发表多篇顶会论文。",
    },
    {
        "name": "孙悦",
        "role": "mentor",
        "title": "学位课导师",
        "signature": "陪你走完每一步",
        "avatar": "avatar-4.svg",
        "brief": "前互联网公司技术经理，带过上百名学员完成转型。",
    },
    {
        "name": "何振宇",
        "role": "mentor",
        "title": "学位课导师（AI 方向）",
        "signature": "算法之外，更要懂业务",
        "avatar": "avatar-3.svg",
        "brief": "多年机器学习落地经验，负责学位课的项目评审与就业辅导。",
    },
)

# Section names starting with these are exercises or documents; every other section is a video.
EXERCISE, DOCUMENT = "练习：", "讲义："

# One dict per course, in the order the catalog lists them. `chapters` holds
# (chapter name, section names); `policies` holds (days, price), 0 days meaning forever.
COURSES: tuple[dict[str, Any], ...] = (
    {
        "slug": "python-basics",
        "name": "Python 开发入门 7 天特训营",
        "category": "Python",
        "level": "beginner",
        "brief": "零基础也能学会的 Python 入门课，7 天写出你的第一个小工具。",
        "slogan": "人生苦短，我用 Python",
        "why": "Python 语法简洁、生态丰富，是自动化、Web 开发与数据分析的首选语言。",
        "career": "掌握编程基本功，胜任脚本开发与自动化办公，为后续进阶打下基础。",
        "prereq": "无需编程基础，会用电脑即可。",
        "hours": 24,
        "teachers": ("林晓峰",),
        "policies": ((30, "99.00"), (90, "239.00"), (180, "399.00"), (0, "599.00")),
        "recommended": ("python-advanced", "linux-basics"),
        "chapters": (
            (
                "环境搭建与第一个程序",
                (
                    "课程介绍与学习路线",
                    "安装 Python 与 PyCharm",
                    "第一个程序 Hello World",
                    "练习：打印个人名片",
                ),
            ),
            (
                "变量与数据类型",
                ("变量与命名规范", "数字与字符串", "列表、元组与字典", "讲义：常用数据类型速查表"),
            ),
            ("流程控制", ("条件判断 if/elif/else", "while 与 for 循环", "练习：猜数字游戏")),
            ("函数", ("函数的定义与调用", "参数与返回值", "作用域与闭包")),
            ("文件与异常", ("文件读写", "异常处理", "练习：简易通讯录")),
        ),
    },
    {
        "slug": "python-advanced",
        "name": "Python 进阶：面向对象与并发编程",
        "category": "Python",
        "level": "intermediate",
        "brief": "吃透面向对象、装饰器、生成器与并发，写出地道的 Python 代码。",
        "slogan": "从会写到写好",
        "why": "能跑的代码不等于好代码，进阶特性决定了你的代码质量与开发效率。",
        "career": "胜任中高级 Python 开发岗位，读懂主流框架源码。",
        "prereq": "学完《Python 开发入门》或有同等基础。",
        "hours": 36,
        "teachers": ("林晓峰",),
        "policies": ((30, "199.00"), (90, "499.00"), (180, "799.00")),
        "recommended": ("django-web", "flask-api"),
        "chapters": (
            ("面向对象编程", ("类与对象", "继承与多态", "魔术方法", "练习：实现一个银行账户类")),
            ("迭代器与生成器", ("迭代器协议", "生成器与 yield", "讲义：itertools 常用工具")),
            ("装饰器与上下文管理器", ("装饰器原理", "带参数的装饰器", "with 语句与上下文管理器")),
            ("并发编程", ("线程与 GIL", "多进程", "asyncio 协程入门", "练习：并发下载器")),
        ),
    },
    {
        "slug": "django-web",
        "name": "Django 企业级 Web 开发实战",
        "category": "Python",
        "level": "intermediate",
        "brief": "从路由到部署，用 Django 完成一个可上线的内容管理系统。",
        "slogan": "为完美主义者准备的 Web 框架",
        "why": "Django 自带 ORM、后台与认证，是国内 Python Web 岗位需求最多的框架。",
        "career": "独立完成企业级 Web 项目的开发与上线。",
        "prereq": "熟悉 Python 基础语法，了解 HTML。",
        "hours": 48,
        "teachers": ("林晓峰", "孙悦"),
        "policies": ((30, "299.00"), (90, "699.00"), (180, "1099.00"), (0, "1699.00")),
        "recommended": ("flask-api", "docker-k8s"),
        "chapters": (
            ("Django 快速上手", ("项目与应用", "URL 路由", "视图与模板")),
            ("ORM 与数据库", ("模型定义", "查询集 QuerySet", "数据库迁移", "练习：博客数据模型")),
            ("用户与权限", ("认证系统", "权限与分组")),
            ("部署上线", ("静态文件与缓存", "Gunicorn 与 Nginx 部署", "讲义：上线检查清单")),
        ),
    },
    {
        "slug": "flask-api",
        "name": "Flask 构建 RESTful API",
        "category": "Python",
        "level": "intermediate",
        "brief": "用轻量的 Flask 设计、实现并测试一套规范的 RESTful API。",
        "slogan": "小而美的 Web 框架",
        "why": "前后端分离已成主流，设计良好的 API 是后端工程师的核心能力。",
        "career": "胜任后端 API 开发，写出易测试、易维护的服务。",
        "prereq": "熟悉 Python 基础语法与 HTTP 基本概念。",
        "hours": 30,
        "teachers": ("林晓峰",),
        "policies": ((30, "199.00"), (90, "459.00"), (180, "729.00")),
        "recommended": ("django-web", "python-advanced"),
        "chapters": (
            ("Flask 基础", ("应用工厂与蓝图", "请求与响应", "配置管理")),
            (
                "设计 RESTful API",
                ("资源与 URL 设计", "序列化与校验", "错误处理与状态码", "练习：图书管理 API"),
            ),
            ("认证与测试", ("Token 认证", "pytest 测试 Flask 应用", "讲义：API 文档编写规范")),
        ),
    },
    {
        "slug": "python-crawler",
        "name": "Python 爬虫开发从入门到精通",
        "category": "Python",
        "level": "intermediate",
        "type": "vip",
        "brief": "requests、XPath 到 Scrapy，系统掌握合规的数据采集技术。",
        "slogan": "数据就在那里，学会优雅地拿到它",
        "why": "数据是分析与 AI 的原料，采集能力是数据岗位的加分项。",
        "career": "胜任数据采集工程师，搭建稳定的采集与清洗流程。",
        "prereq": "熟悉 Python 基础语法。",
        "hours": 40,
        "teachers": ("林晓峰",),
        "policies": ((30, "299.00"), (90, "699.00"), (180, "999.00")),
        "recommended": ("numpy-pandas", "python-advanced"),
        "chapters": (
            ("爬虫基础", ("HTTP 协议回顾", "requests 库", "练习：抓取天气预报")),
            ("数据解析", ("正则表达式", "XPath 与 lxml", "BeautifulSoup")),
            ("Scrapy 框架", ("Scrapy 架构", "Item 与 Pipeline", "中间件")),
            ("反爬与合规", ("常见反爬策略", "讲义：爬虫的法律边界")),
        ),
    },
    {
        "slug": "python-source",
        "name": "CPython 源码剖析",
        "category": "Python",
        "level": "advanced",
        "type": "vip",
        "brief": "深入解释器内部：对象模型、字节码虚拟机与内存管理。",
        "slogan": "知其然，更知其所以然",
        "why": "理解解释器的实现，才能解释性能问题、写出更高效的代码。",
        "career": "成为团队中能解决疑难问题的 Python 专家。",
        "prereq": "熟练使用 Python，了解 C 语言基础。",
        "hours": 32,
        "teachers": ("林晓峰", "周子航"),
        "policies": ((90, "899.00"), (180, "1399.00"), (0, "2199.00")),
        "recommended": ("python-advanced", "go-basics"),
        "chapters": (
            ("对象模型", ("PyObject 与类型对象", "整数与字符串对象", "列表与字典的实现")),
            ("虚拟机", ("字节码与 dis 模块", "帧与求值循环", "讲义：字节码指令表")),
            ("内存管理", ("引用计数", "分代垃圾回收", "练习：定位内存泄漏")),
        ),
    },
    {
        "slug": "linux-basics",
        "name": "Linux 系统基础入门",
        "category": "Linux 运维",
        "level": "beginner",
        "brief": "从安装到日常管理，掌握服务器上最常用的 Linux 技能。",
        "slogan": "一切皆文件",
        "why": "绝大多数服务器运行 Linux，开发与运维都离不开它。",
        "career": "能够独立管理 Linux 服务器，胜任初级运维岗位。",
        "prereq": "无。",
        "hours": 20,
        "teachers": ("陈思远",),
        "policies": ((30, "79.00"), (90, "199.00"), (180, "329.00"), (0, "499.00")),
        "recommended": ("shell-scripting", "python-basics"),
        "chapters": (
            ("初识 Linux", ("Linux 发行版介绍", "安装 Ubuntu 虚拟机")),
            ("文件与目录", ("目录结构", "常用文件命令", "权限与用户", "练习：整理日志目录")),
            ("文本处理", ("vim 编辑器", "grep、sed 与 awk")),
            ("系统管理", ("进程管理", "软件包管理", "systemd 服务", "讲义：常用命令速查")),
        ),
    },
    {
        "slug": "shell-scripting",
        "name": "Shell 脚本编程实战",
        "category": "Linux 运维",
        "level": "intermediate",
        "brief": "用 Shell 脚本把重复的运维工作交给机器。",
        "slogan": "把重复留给脚本",
        "why": "Shell 是运维自动化最直接的工具，几行脚本就能省下大量时间。",
        "career": "写出健壮的运维脚本，提升日常工作效率。",
        "prereq": "学完《Linux 系统基础入门》。",
        "hours": 16,
        "teachers": ("陈思远",),
        "policies": ((30, "99.00"), (90, "239.00"), (180, "369.00")),
        "recommended": ("linux-basics", "devops-cicd"),
        "chapters": (
            ("Shell 基础", ("变量与引号", "条件测试", "循环结构")),
            ("函数与脚本组织", ("函数", "参数处理 getopts", "练习：批量重命名脚本")),
            ("实战", ("日志分析脚本", "定时任务 cron", "讲义：Shell 编码规范")),
        ),
    },
    {
        "slug": "docker-k8s",
        "name": "Docker 与 Kubernetes 容器化实战",
        "category": "Linux 运维",
        "level": "advanced",
        "type": "vip",
        "brief": "从镜像构建到集群编排，掌握云原生时代的交付方式。",
        "slogan": "一次构建，到处运行",
        "why": "容器化已是应用交付的标准方式，Kubernetes 是云原生的基石。",
        "career": "胜任云原生运维与平台工程岗位。",
        "prereq": "熟悉 Linux 常用命令，了解网络基础。",
        "hours": 56,
        "teachers": ("陈思远", "赵明轩"),
        "policies": ((30, "399.00"), (90, "999.00"), (180, "1599.00"), (0, "2599.00")),
        "recommended": ("devops-cicd", "go-microservices"),
        "chapters": (
            ("容器入门", ("容器与虚拟机", "Docker 安装与镜像")),
            ("镜像构建", ("Dockerfile 编写", "多阶段构建", "练习：为 Flask 应用构建镜像")),
            ("Docker Compose", ("多容器编排", "网络与数据卷")),
            (
                "Kubernetes 核心概念",
                ("Pod 与 Deployment", "Service 与 Ingress", "ConfigMap 与 Secret"),
            ),
            ("生产实践", ("滚动更新与回滚", "监控与日志", "讲义：集群排障手册")),
        ),
    },
    {
        "slug": "devops-cicd",
        "name": "自动化运维：Ansible 与 CI/CD",
        "category": "Linux 运维",
        "level": "intermediate",
        "brief": "用 Ansible 管理成百上千台服务器，用流水线自动交付代码。",
        "slogan": "让发布变成一件无聊的事",
        "why": "自动化是规模化运维的前提，CI/CD 让团队交付又快又稳。",
        "career": "胜任 DevOps 工程师，搭建团队的交付流水线。",
        "prereq": "熟悉 Linux 与 Git 基本操作。",
        "hours": 28,
        "teachers": ("陈思远",),
        "policies": ((30, "199.00"), (90, "499.00"), (180, "799.00")),
        "recommended": ("docker-k8s", "shell-scripting"),
        "chapters": (
            ("自动化运维概述", ("运维自动化的演进", "讲义：基础设施即代码")),
            (
                "Ansible",
                ("Inventory 与 Ad-hoc 命令", "Playbook", "Role 组织", "练习：一键部署 Nginx"),
            ),
            ("持续集成", ("Git 工作流", "GitLab CI 流水线")),
            ("持续交付", ("制品管理", "灰度发布", "练习：搭建完整流水线")),
        ),
    },
    {
        "slug": "html-css",
        "name": "HTML5 + CSS3 网页布局入门",
        "category": "前端",
        "level": "beginner",
        "brief": "从标签到响应式布局，亲手做出漂亮的网页。",
        "slogan": "所见即所得",
        "why": "HTML 与 CSS 是一切网页的基础，也是最容易获得成就感的编程入门。",
        "career": "能够独立还原设计稿，胜任初级前端岗位。",
        "prereq": "无。",
        "hours": 18,
        "teachers": ("王嘉怡",),
        "policies": ((30, "69.00"), (90, "169.00"), (180, "279.00"), (0, "399.00")),
        "recommended": ("javascript-core", "vue3-project"),
        "chapters": (
            ("HTML 基础", ("网页结构", "常用标签", "表单")),
            ("CSS 基础", ("选择器", "盒模型", "练习：制作个人简历页")),
            ("布局", ("Flexbox 布局", "Grid 布局", "定位")),
            ("响应式设计", ("媒体查询", "移动端适配", "练习：响应式产品首页")),
        ),
    },
    {
        "slug": "javascript-core",
        "name": "JavaScript 核心语法精讲",
        "category": "前端",
        "level": "beginner",
        "brief": "系统掌握 JavaScript 语法、DOM 操作与异步编程。",
        "slogan": "让网页动起来",
        "why": "JavaScript 是浏览器唯一的原生语言，也是全栈开发的通行证。",
        "career": "为学习 Vue、React 等框架打下扎实基础。",
        "prereq": "了解 HTML 与 CSS。",
        "hours": 26,
        "teachers": ("王嘉怡",),
        "policies": ((30, "99.00"), (90, "239.00"), (180, "389.00")),
        "recommended": ("vue3-project", "html-css"),
        "chapters": (
            ("语法基础", ("变量与类型", "运算符与流程控制", "函数")),
            ("对象与数组", ("对象字面量", "数组方法", "练习：购物车计算")),
            ("DOM 与事件", ("查找与修改元素", "事件处理", "事件委托")),
            ("异步编程", ("回调与 Promise", "async/await", "fetch 请求", "讲义：事件循环图解")),
        ),
    },
    {
        "slug": "vue3-project",
        "name": "Vue 3 + TypeScript 项目实战",
        "category": "前端",
        "level": "intermediate",
        "brief": "用 Vue 3 组合式 API 与 TypeScript 从零搭建一个课程商城。",
        "slogan": "渐进式框架，渐进式成长",
        "why": "Vue 是国内使用最广的前端框架之一，项目实战是最快的成长方式。",
        "career": "胜任中级前端开发，独立负责业务模块。",
        "prereq": "学完《JavaScript 核心语法精讲》。",
        "hours": 45,
        "teachers": ("王嘉怡", "孙悦"),
        "policies": ((30, "299.00"), (90, "699.00"), (180, "1099.00"), (0, "1599.00")),
        "recommended": ("frontend-engineering", "javascript-core"),
        "chapters": (
            ("Vue 3 入门", ("创建项目", "模板语法")),
            ("组合式 API", ("ref 与 reactive", "computed 与 watch", "生命周期")),
            ("组件化", ("Props 与事件", "插槽", "练习：封装分页组件")),
            ("路由与状态", ("Vue Router", "Pinia 状态管理")),
            ("项目实战", ("课程商城首页", "购物车页面", "讲义：项目目录规范", "练习：完成结算页")),
        ),
    },
    {
        "slug": "frontend-engineering",
        "name": "前端工程化与性能优化",
        "category": "前端",
        "level": "advanced",
        "brief": "构建工具、代码规范与性能优化，打造专业的前端工程体系。",
        "slogan": "快，是最好的用户体验",
        "why": "项目越大越需要工程化，性能直接影响转化率与留存。",
        "career": "胜任高级前端与前端架构岗位。",
        "prereq": "有一个以上前端框架的项目经验。",
        "hours": 30,
        "teachers": ("王嘉怡",),
        "policies": ((30, "299.00"), (90, "749.00"), (180, "1199.00")),
        "recommended": ("vue3-project", "docker-k8s"),
        "chapters": (
            ("构建工具", ("Vite 原理", "Webpack 配置", "讲义：构建工具对比")),
            ("代码质量", ("ESLint 与 Prettier", "单元测试")),
            ("性能优化", ("加载性能", "渲染性能", "练习：Lighthouse 优化实战")),
        ),
    },
    {
        "slug": "go-basics",
        "name": "Go 语言零基础入门",
        "category": "Go",
        "level": "beginner",
        "brief": "简洁高效的 Go 语言，从语法到并发一次学会。",
        "slogan": "大道至简",
        "why": "Go 编译快、部署简单、天生支持并发，是云原生与后端服务的热门语言。",
        "career": "能够用 Go 编写命令行工具与后端服务。",
        "prereq": "有任意一门编程语言基础更佳。",
        "hours": 28,
        "teachers": ("赵明轩",),
        "policies": ((30, "149.00"), (90, "349.00"), (180, "549.00"), (0, "899.00")),
        "recommended": ("go-microservices", "linux-basics"),
        "chapters": (
            ("Go 入门", ("安装与 Hello World", "包与模块")),
            ("基础语法", ("变量与常量", "切片与映射", "结构体与方法", "练习：学生成绩统计")),
            ("接口与错误", ("接口", "错误处理")),
            ("并发", ("goroutine", "channel", "select 与超时", "讲义：并发模式速查")),
        ),
    },
    {
        "slug": "go-microservices",
        "name": "Go 微服务架构实战",
        "category": "Go",
        "level": "advanced",
        "type": "vip",
        "brief": "gRPC、服务治理与可观测性，用 Go 搭建生产级微服务。",
        "slogan": "拆得开，管得住",
        "why": "微服务是大型系统的主流架构，Go 是实现它的最佳语言之一。",
        "career": "胜任高级后端与架构师岗位。",
        "prereq": "学完《Go 语言零基础入门》，了解 Docker。",
        "hours": 52,
        "teachers": ("赵明轩", "陈思远"),
        "policies": ((30, "499.00"), (90, "1199.00"), (180, "1899.00")),
        "recommended": ("docker-k8s", "go-basics"),
        "chapters": (
            ("微服务架构", ("单体与微服务", "服务拆分原则")),
            ("gRPC", ("Protocol Buffers", "gRPC 服务开发", "练习：实现用户服务")),
            ("服务治理", ("服务注册与发现", "负载均衡", "熔断与限流")),
            ("可观测性", ("日志与指标", "链路追踪", "讲义：上线检查清单")),
        ),
    },
    {
        "slug": "numpy-pandas",
        "name": "数据分析基础：NumPy 与 Pandas",
        "category": "数据分析",
        "level": "beginner",
        "brief": "用 NumPy 与 Pandas 处理真实业务数据，告别手工 Excel。",
        "slogan": "用数据说话",
        "why": "数据分析是各行各业都需要的能力，Pandas 是最常用的工具。",
        "career": "胜任数据分析师岗位，独立完成数据清洗与报表。",
        "prereq": "了解 Python 基础语法。",
        "hours": 30,
        "teachers": ("刘雨桐",),
        "policies": ((30, "129.00"), (90, "299.00"), (180, "499.00"), (0, "799.00")),
        "recommended": ("data-visualization", "sql-analytics"),
        "chapters": (
            ("数据分析环境", ("Anaconda 与 Jupyter", "讲义：数据分析流程")),
            ("NumPy", ("数组创建", "索引与切片", "广播与向量化")),
            ("Pandas 基础", ("Series 与 DataFrame", "数据读取与清洗", "练习：清洗电商订单数据")),
            ("分组与透视", ("groupby 聚合", "透视表", "时间序列")),
        ),
    },
    {
        "slug": "data-visualization",
        "name": "数据可视化：Matplotlib 与 ECharts",
        "category": "数据分析",
        "level": "intermediate",
        "brief": "把枯燥的数字变成一眼看懂的图表与看板。",
        "slogan": "一图胜千言",
        "why": "好的可视化让结论更有说服力，是分析报告的点睛之笔。",
        "career": "能够为业务搭建数据看板，胜任 BI 相关岗位。",
        "prereq": "学完《数据分析基础：NumPy 与 Pandas》。",
        "hours": 20,
        "teachers": ("刘雨桐", "王嘉怡"),
        "policies": ((30, "99.00"), (90, "249.00"), (180, "399.00")),
        "recommended": ("numpy-pandas", "sql-analytics"),
        "chapters": (
            ("Matplotlib", ("折线图与柱状图", "子图与样式", "练习：销售数据看板")),
            ("Seaborn", ("分布图", "关系图")),
            ("ECharts", ("配置项入门", "交互式图表", "讲义：图表选型指南")),
        ),
    },
    {
        "slug": "sql-analytics",
        "name": "SQL 数据分析实战",
        "category": "数据分析",
        "level": "beginner",
        "brief": "从 SELECT 到窗口函数，用 SQL 回答业务问题。",
        "slogan": "会 SQL 的分析师不用求人",
        "why": "数据大多在数据库里，SQL 是取数与分析最直接的语言。",
        "career": "胜任数据分析、数据运营等岗位的取数需求。",
        "prereq": "无。",
        "hours": 18,
        "teachers": ("刘雨桐",),
        "policies": ((30, "89.00"), (90, "219.00"), (180, "349.00")),
        "recommended": ("numpy-pandas", "data-visualization"),
        "chapters": (
            ("SQL 基础", ("SELECT 查询", "过滤与排序", "聚合函数")),
            ("多表查询", ("JOIN 连接", "子查询", "练习：用户留存分析")),
            ("窗口函数", ("排名函数", "移动平均", "讲义：SQL 面试题精选")),
        ),
    },
    {
        "slug": "machine-learning",
        "name": "机器学习入门：从线性回归到随机森林",
        "category": "人工智能",
        "level": "intermediate",
        "brief": "理解经典机器学习算法的原理，并用 scikit-learn 动手实践。",
        "slogan": "让机器从数据中学习",
        "why": "机器学习是人工智能的基础，经典算法至今仍在业务中广泛使用。",
        "career": "胜任初级算法工程师，完成建模与评估。",
        "prereq": "熟悉 Python 与 Pandas，了解高中数学。",
        "hours": 42,
        "teachers": ("周子航", "刘雨桐"),
        "policies": ((30, "299.00"), (90, "699.00"), (180, "1099.00"), (0, "1799.00")),
        "recommended": ("deep-learning", "numpy-pandas"),
        "chapters": (
            ("机器学习概览", ("什么是机器学习", "讲义：数学基础回顾")),
            ("回归", ("线性回归", "梯度下降", "正则化")),
            ("分类", ("逻辑回归", "K 近邻", "练习：鸢尾花分类")),
            ("树模型", ("决策树", "随机森林")),
            ("模型评估", ("交叉验证", "评估指标", "练习：房价预测")),
        ),
    },
    {
        "slug": "deep-learning",
        "name": "深度学习与 PyTorch 实战",
        "category": "人工智能",
        "level": "advanced",
        "type": "vip",
        "brief": "从神经网络原理到 CNN、RNN，用 PyTorch 训练你自己的模型。",
        "slogan": "深入浅出，亲手训练",
        "why": "深度学习推动了视觉、语音与语言的突破，是 AI 工程师的必修课。",
        "career": "胜任深度学习算法工程师岗位。",
        "prereq": "学完《机器学习入门》，了解线性代数与微积分。",
        "hours": 60,
        "teachers": ("周子航",),
        "policies": ((30, "499.00"), (90, "1199.00"), (180, "1899.00"), (0, "2999.00")),
        "recommended": ("nlp-llm", "machine-learning"),
        "chapters": (
            ("神经网络基础", ("感知机", "反向传播")),
            ("PyTorch", ("张量与自动求导", "构建模型", "训练循环", "练习：手写数字识别")),
            ("卷积神经网络", ("卷积与池化", "经典网络结构", "迁移学习")),
            ("循环神经网络", ("RNN 与 LSTM", "讲义：调参技巧")),
        ),
    },
    {
        "slug": "nlp-llm",
        "name": "自然语言处理与大模型应用",
        "category": "人工智能",
        "level": "advanced",
        "brief": "从词向量到 Transformer，再到基于大模型的 RAG 应用开发。",
        "slogan": "让机器读懂人话",
        "why": "大模型正在改变软件的形态，懂原理又会落地的人才稀缺。",
        "career": "胜任 NLP 算法与大模型应用开发岗位。",
        "prereq": "学完《深度学习与 PyTorch 实战》。",
        "hours": 44,
        "teachers": ("周子航", "何振宇"),
        "policies": ((30, "399.00"), (90, "999.00"), (180, "1599.00")),
        "recommended": ("deep-learning", "machine-learning"),
        "chapters": (
            ("文本处理", ("分词", "词向量")),
            ("Transformer", ("注意力机制", "BERT 与 GPT", "讲义：论文导读")),
            ("大模型应用", ("提示词工程", "检索增强生成 RAG", "练习：搭建知识库问答")),
            ("部署与评测", ("模型量化与部署", "效果评测")),
        ),
    },
    # Hidden courses: the catalog must not list them, nor sell them.
    {
        "slug": "python2-legacy",
        "name": "Python 2.7 经典教程",
        "category": "Python",
        "level": "beginner",
        "status": "offline",
        "brief": "Python 2 已停止维护，本课程已下线，请学习《Python 开发入门》。",
        "slogan": "致敬经典",
        "why": "维护遗留系统时仍可能遇到 Python 2 代码。",
        "career": "读懂并迁移遗留的 Python 2 项目。",
        "prereq": "无。",
        "hours": 12,
        "teachers": ("林晓峰",),
        "policies": ((30, "49.00"), (90, "99.00")),
        "recommended": ("python-basics",),
        "chapters": (
            ("基础语法", ("print 语句", "字符串与编码")),
            ("标准库", ("os 与 sys", "讲义：迁移到 Python 3")),
            ("综合练习", ("练习：文件批处理", "练习：简易计算器")),
        ),
    },
    {
        "slug": "jquery-classic",
        "name": "jQuery 从入门到精通",
        "category": "前端",
        "level": "beginner",
        "status": "offline",
        "brief": "曾经最流行的 JavaScript 库，本课程已下线。",
        "slogan": "Write less, do more",
        "why": "不少老项目仍在使用 jQuery。",
        "career": "维护基于 jQuery 的老项目。",
        "prereq": "了解 HTML 与 CSS。",
        "hours": 10,
        "teachers": ("王嘉怡",),
        "policies": ((30, "49.00"), (90, "99.00")),
        "recommended": ("javascript-core",),
        "chapters": (
            ("选择器", ("基本选择器", "过滤选择器")),
            ("DOM 操作", ("增删改查", "事件绑定")),
            ("动画与 Ajax", ("动画效果", "Ajax 请求", "练习：图片轮播")),
        ),
    },
    {
        "slug": "llm-agent",
        "name": "大模型 Agent 开发实战",
        "category": "人工智能",
        "level": "advanced",
        "status": "upcoming",
        "brief": "工具调用、多 Agent 协作与评测，即将上线，敬请期待。",
        "slogan": "让大模型替你做事",
        "why": "Agent 让大模型从回答问题走向完成任务。",
        "career": "胜任大模型应用与 Agent 开发岗位。",
        "prereq": "学完《自然语言处理与大模型应用》。",
        "hours": 36,
        "teachers": ("周子航",),
        "policies": ((90, "999.00"), (180, "1599.00")),
        "recommended": ("nlp-llm",),
        "chapters": (
            ("Agent 概述", ("什么是 Agent", "工具调用")),
            ("框架实践", ("LangChain 入门", "多 Agent 协作")),
            ("项目", ("练习：旅行规划助手", "讲义：评测与安全")),
        ),
    },
)

DEGREE_COURSES: tuple[dict[str, Any], ...] = (
    {
        "slug": "python-fullstack-degree",
        "name": "Python 全栈开发工程师（学位课）",
        "brief": "6 个月从零到全栈：Python、Web 后端、前端与 Linux 部署，导师全程带学。",
        "period": 180,
        "total_scholarship": "3000.00",
        "scholarship_rules": (
            "按时完成每门课程的作业并通过导师评审，即可按课程比例获得奖学金；"
            "全部课程结业后一次性发放，最高 3000 元。"
        ),
        "courses": (
            "python-basics",
            "python-advanced",
            "linux-basics",
            "html-css",
            "javascript-core",
            "django-web",
            "flask-api",
            "vue3-project",
        ),
        "mentors": ("孙悦", "林晓峰"),
        "policies": ((180, "5999.00"), (365, "9999.00")),
    },
    {
        "slug": "ai-engineer-degree",
        "name": "人工智能算法工程师（学位课）",
        "brief": "从数据分析到深度学习与大模型，完成 3 个企业级项目，导师一对一辅导。",
        "period": 365,
        "total_scholarship": "5000.00",
        "scholarship_rules": (
            "每完成一个项目并通过答辩可获得对应奖学金，结业时按项目成绩发放，最高 5000 元。"
        ),
        "courses": (
            "python-basics",
            "numpy-pandas",
            "sql-analytics",
            "machine-learning",
            "deep-learning",
            "nlp-llm",
        ),
        "mentors": ("何振宇", "周子航"),
        "policies": ((180, "7999.00"), (365, "12999.00")),
    },
)

COURSE_FAQS = (
    ("课程有效期到了还能看吗？", "有效期结束后可再次购买延长有效期，学习进度会保留。"),
    ("可以下载视频离线观看吗？", "为保护讲师版权，视频仅支持在线观看，讲义可以下载。"),
    ("学习中遇到问题怎么办？", "每节课下方都可以提问，助教会在 24 小时内回复。"),
)
DEGREE_FAQS = (
    (
        "学位课和普通课程有什么区别？",
        "学位课包含一组课程，并配有导师、作业批改、项目答辩与奖学金。",
    ),
    ("奖学金如何发放？", "按奖学金规则完成任务后，结业时统一发放到账户余额。"),
    ("跟不上进度可以延期吗？", "可以申请一次免费延期，最长 30 天。"),
)

# Claim windows open now (from a day ago); the use window is either `valid_days` after
# claiming or, when `use_days` is given, fixed from a day ago for that many days.
COUPONS: tuple[dict[str, Any], ...] = (
    {
        "name": "新人立减 20 元",
        "kind": "money_off",
        "value": "20.00",
        "valid_days": 30,
        "brief": "全场通用，新同学专享。",
    },
    {
        "name": "全场满 300 减 50",
        "kind": "threshold",
        "value": "50.00",
        "minimum": "300.00",
        "quantity": 500,
        "use_days": 60,
        "brief": "订单满 300 元可用。",
    },
    {
        "name": "全场 9 折券",
        "kind": "percent",
        "off_percent": 90,
        "minimum": "100.00",
        "quantity": 200,
        "valid_days": 14,
        "brief": "订单满 100 元可用，限量 200 张。",
    },
    {
        "name": "Python 入门立减 30 元",
        "kind": "money_off",
        "value": "30.00",
        "product": "python-basics",
        "quantity": 100,
        "valid_days": 30,
        "brief": "仅限《Python 开发入门 7 天特训营》。",
    },
    {
        "name": "Django 实战满 600 减 100",
        "kind": "threshold",
        "value": "100.00",
        "minimum": "600.00",
        "product": "django-web",
        "use_days": 90,
        "brief": "仅限《Django 企业级 Web 开发实战》。",
    },
    {
        "name": "深度学习 8 折券",
        "kind": "percent",
        "off_percent": 80,
        "product": "deep-learning",
        "quantity": 50,
        "valid_days": 7,
        "brief": "仅限《深度学习与 PyTorch 实战》，限量 50 张。",
    },
    {
        "name": "Go 入门 85 折券",
        "kind": "percent",
        "off_percent": 85,
        "product": "go-basics",
        "use_days": 120,
        "brief": "仅限《Go 语言零基础入门》。",
    },
    {
        "name": "全栈学位课立减 500 元",
        "kind": "money_off",
        "value": "500.00",
        "product": "python-fullstack-degree",
        "quantity": 20,
        "valid_days": 60,
        "brief": "仅限 Python 全栈开发工程师学位课，限量 20 张。",
    },
)

# username, password, email, is_staff
USERS = (
    ("demo", "demo12345", "demo@example.com", False),
    ("admin", "admin12345", "admin@example.com", True),
)


@dataclass
class Tally:
    """What this run created and what it found already there, by kind of object."""

    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, created: bool) -> None:
        (self.created if created else self.existing)[kind] += 1

    def lines(self) -> list[str]:
        kinds = list(dict.fromkeys([*self.created, *self.existing]))
        return [
            f"  {kind:<16}{self.created[kind]:>5} created {self.existing[kind]:>5} already there"
            for kind in kinds
        ]


def _get_or_create(
    tally: Tally, label: str, model: type, key: dict[str, Any], /, **fields: Any
) -> Any:
    """The row matching `key`, or a new one made with `key` and `fields` when there is none."""
    found = db.session.scalar(select(model).filter_by(**key).order_by(model.id).limit(1))
    tally.record(label, found is None)
    if found is not None:
        return found
    made = model(**key, **fields)
    db.session.add(made)
    return made


def ensure_categories(tally: Tally) -> dict[str, CourseCategory]:
    categories = {}
    for order, (name, name_en, _cover) in enumerate(CATEGORIES, start=1):
        categories[name] = _get_or_create(
            tally,
            "categories",
            CourseCategory,
            {"name": name},
            name_en=name_en,
            sort_order=order * 10,
        )
    return categories


def ensure_teachers(tally: Tally) -> dict[str, Teacher]:
    teachers = {}
    for data in TEACHERS:
        teachers[data["name"]] = _get_or_create(
            tally,
            "teachers",
            Teacher,
            {"name": data["name"]},
            role=data["role"],
            title=data["title"],
            signature=data["signature"],
            image=f"{AVATARS}/{data['avatar']}",
            brief=data["brief"],
        )
    return teachers


def ensure_policies(tally: Tally, product: Product, policies: tuple[tuple[int, str], ...]) -> None:
    """One policy per period; an existing one is kept as it is, even retired or repriced."""
    periods = {policy.valid_period for policy in product.price_policies}
    for days, price in policies:
        tally.record("price policies", days not in periods)
        if days not in periods:
            product.price_policies.append(PricePolicy(valid_period=days, price=Decimal(price)))


def ensure_faqs(tally: Tally, product: Product, faqs: tuple[tuple[str, str], ...]) -> None:
    questions = {faq.question for faq in product.faqs}
    for order, (question, answer) in enumerate(faqs, start=1):
        tally.record("faqs", question not in questions)
        if question not in questions:
            product.faqs.append(FAQ(question=question, answer=answer, sort_order=order * 10))


def _section_type(name: str) -> str:
    if name.startswith(EXERCISE):
        return SectionType.EXERCISE
    if name.startswith(DOCUMENT):
        return SectionType.DOCUMENT
    return SectionType.VIDEO


def _new_section(slug: str, chapter: int, position: int, name: str, trial: int) -> CourseSection:
    # A video's file and duration come from ensure_lesson_media; a document's or an
    # exercise's text is written here.
    kind = _section_type(name)
    return CourseSection(
        position=position,
        name=name,
        section_type=kind,
        link="",
        duration=None,
        content=_section_text(name, kind),
        free_trial=chapter == 1 and position <= trial,
    )


def _section_text(name: str, kind: str) -> str:
    topic = escape(name.removeprefix(EXERCISE).removeprefix(DOCUMENT))
    if kind == SectionType.EXERCISE:
        return (
            f"<h2>{topic}</h2><p>动手完成下面的练习，完成后再看下一节。</p>"
            "<ol><li>阅读本章的示例代码，在自己的电脑上运行一遍。</li>"
            "<li>修改其中一处逻辑，写下你预期的输出，再运行验证。</li>"
            "<li>把遇到的问题记下来，在答疑区提问。</li></ol>"
        )
    if kind == SectionType.DOCUMENT:
        return (
            f"<h2>{topic}</h2><p>本节讲义整理了视频中的要点，便于复习。</p>"
            "<ul><li>先理解概念，再看代码。</li><li>每个例子都可以直接运行。</li>"
            "<li>遇到不懂的地方，回到对应的视频再看一遍。</li></ul>"
        )
    return ""


def ensure_lesson_media(tally: Tally, courses: list[Course]) -> None:
    """Every demo video section plays a real file (app/services/demo_media.py: a few files,
    made once, shared) and takes its duration from it; sections already given a file keep it."""
    lessons = ensure_demo_lessons()
    for course_index, course in enumerate(courses):
        for chapter in course.chapters:
            for section in chapter.sections:
                if section.section_type != SectionType.VIDEO:
                    if not section.content:
                        tally.record("section texts", True)
                        section.content = _section_text(section.name, section.section_type)
                    continue
                if section.media_file:
                    continue
                tally.record("lesson videos", True)
                pick = (course_index + chapter.number * 3 + section.position) % len(lessons)
                section.media_file, section.duration = lessons[pick]
                section.media_type = "video/mp4"
                if section.link.startswith(VIDEO_HOST):
                    section.link = ""  # the made-up address the demo once gave


def ensure_chapters(tally: Tally, course: Course, data: dict[str, Any], trial: int) -> None:
    """Chapters by number, sections by position; the first `trial` sections are free to try."""
    chapters = {chapter.number: chapter for chapter in course.chapters}
    for number, (chapter_name, section_names) in enumerate(data["chapters"], start=1):
        chapter = chapters.get(number)
        tally.record("chapters", chapter is None)
        if chapter is None:
            chapter = CourseChapter(number=number, name=chapter_name)
            course.chapters.append(chapter)
        positions = {section.position for section in chapter.sections}
        for position, name in enumerate(section_names, start=1):
            tally.record("sections", position not in positions)
            if position not in positions:
                chapter.sections.append(_new_section(data["slug"], number, position, name, trial))


def _what_to_study(data: dict[str, Any]) -> str:
    items = "".join(f"<li>{escape(name)}</li>" for name, _sections in data["chapters"])
    return f"<p>本课程共 {len(data['chapters'])} 章，带你系统掌握：</p><ul>{items}</ul>"


def ensure_detail(tally: Tally, course: Course, data: dict[str, Any]) -> None:
    tally.record("course details", course.detail is None)
    if course.detail is None:
        course.detail = CourseDetail(
            hours=data["hours"],
            slogan=data["slogan"],
            video_brief_link=f"{VIDEO_HOST}/{data['slug']}/intro.mp4",
            why_study=data["why"],
            what_to_study=_what_to_study(data),
            career_improvement=data["career"],
            prerequisite=data["prereq"],
        )


def _add_missing(collection: list, wanted: list) -> None:
    for item in wanted:
        if item not in collection:
            collection.append(item)


def ensure_course(
    tally: Tally,
    index: int,
    data: dict[str, Any],
    categories: dict[str, CourseCategory],
    teachers: dict[str, Teacher],
    now: datetime,
) -> Course:
    category = categories[data["category"]]
    cover = next(cover for name, _en, cover in CATEGORIES if name == data["category"])
    course = _get_or_create(
        tally,
        "courses",
        Course,
        {"slug": data["slug"]},
        name=data["name"],
        brief=data["brief"],
        course_img=f"{COVERS}/{cover}",
        course_type=data.get("type", "paid"),
        level=data["level"],
        status=data.get("status", "online"),
        period=max(7, data["hours"] // 2),
        sort_order=(index + 1) * 10,
        # Spread over three months, in an order unlike the catalog's, so "newest" differs.
        created_at=now - timedelta(days=(index * 17) % 97 + 1),
        category=category,
    )
    ensure_detail(tally, course, data)
    ensure_chapters(tally, course, data, trial=2 if index % 2 == 0 else 1)
    ensure_policies(tally, course, data["policies"])
    ensure_faqs(tally, course, COURSE_FAQS)
    _add_missing(course.teachers, [teachers[name] for name in data["teachers"]])
    return course


def link_recommendations(courses: dict[str, Course]) -> None:
    for data in COURSES:
        course = courses[data["slug"]]
        _add_missing(course.recommended, [courses[slug] for slug in data["recommended"]])


def ensure_degree_course(
    tally: Tally,
    index: int,
    data: dict[str, Any],
    courses: dict[str, Course],
    teachers: dict[str, Teacher],
    now: datetime,
) -> DegreeCourse:
    degree = _get_or_create(
        tally,
        "degree courses",
        DegreeCourse,
        {"slug": data["slug"]},
        name=data["name"],
        brief=data["brief"],
        course_img=f"{COVERS}/degree.svg",
        status="online",
        period=data["period"],
        total_scholarship=Decimal(data["total_scholarship"]),
        scholarship_rules=data["scholarship_rules"],
        sort_order=(index + 1) * 10,
        created_at=now - timedelta(days=index * 30 + 5),
    )
    ensure_policies(tally, degree, data["policies"])
    ensure_faqs(tally, degree, DEGREE_FAQS)
    _add_missing(degree.mentors, [teachers[name] for name in data["mentors"]])
    db.session.flush()
    # The link table carries the courses' order, which the relationship cannot set: insert it.
    table = degree_course_courses
    linked = set(
        db.session.scalars(select(table.c.course_id).where(table.c.degree_course_id == degree.id))
    )
    rows = [
        {"degree_course_id": degree.id, "course_id": courses[slug].id, "position": position}
        for position, slug in enumerate(data["courses"], start=1)
        if courses[slug].id not in linked
    ]
    if rows:
        db.session.execute(insert(table), rows)
    return degree


def ensure_coupons(tally: Tally, products: dict[str, Product], now: datetime) -> None:
    for data in COUPONS:
        use_days = data.get("use_days")
        _get_or_create(
            tally,
            "coupons",
            Coupon,
            {"name": data["name"]},
            brief=data["brief"],
            kind=CouponKind(data["kind"]),
            value=Decimal(data["value"]) if "value" in data else None,
            off_percent=data.get("off_percent"),
            minimum_consume=Decimal(data.get("minimum", "0.00")),
            product=products[data["product"]] if "product" in data else None,
            quantity=data.get("quantity"),
            claimed=0,
            claim_start=now - timedelta(days=1),
            claim_end=now + timedelta(days=365),
            valid_days=data.get("valid_days"),
            valid_from=now - timedelta(days=1) if use_days else None,
            valid_until=now + timedelta(days=use_days) if use_days else None,
            active=True,
        )


def ensure_users(tally: Tally) -> None:
    """The demo accounts; an existing one is left exactly as it is (password included)."""
    for username, password, email, is_staff in USERS:
        exists = find_user(username) is not None
        tally.record("users", not exists)
        if not exists:
            create_user(username, password, email=email, is_staff=is_staff)


def seed_demo() -> Tally:
    """Create whatever of the demo catalog is missing; flushes, never commits."""
    tally = Tally()
    now = utcnow()
    categories = ensure_categories(tally)
    teachers = ensure_teachers(tally)
    courses = {
        data["slug"]: ensure_course(tally, index, data, categories, teachers, now)
        for index, data in enumerate(COURSES)
    }
    link_recommendations(courses)
    ensure_lesson_media(tally, list(courses.values()))
    degrees = {
        data["slug"]: ensure_degree_course(tally, index, data, courses, teachers, now)
        for index, data in enumerate(DEGREE_COURSES)
    }
    ensure_coupons(tally, {**courses, **degrees}, now)
    ensure_users(tally)
    db.session.flush()
    return tally


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo catalog and accounts; running it again changes nothing."""
    try:
        tally = seed_demo()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if current_app.config["PAYMENT_SANDBOX"]:
        from app.services.payments.keys import ensure_sandbox_keys

        ensure_sandbox_keys(current_app)  # made here rather than by the first sandbox payment
    click.echo("Demo catalog:")
    for line in tally.lines():
        click.echo(line)
    click.echo("Sign in as demo / demo12345 (student) or admin / admin12345 (staff).")
