# %% [markdown]
# # 文章:Keras 的回调函数 ReduceLROnPlateau
#
# 训练到后期,验证集准确率常常不再提高。两种回调函数应对这种情况:
#
# - **EarlyStopping**(早停):监控的指标连续 `patience` 轮没有改善,就停止训练;
# - **ReduceLROnPlateau**(平台期降低学习率):监控的指标连续 `patience` 轮没有改善,就把学习率乘以
#   `factor`(例如 0.1),用更小的步子接着找更低的点。
#
# 文章在 MNIST 上训练一个单隐藏层的全连接网络(784 → 784 ReLU,Dropout 0.5 → 10;Adam 0.01,
# 每批 200 张,最多 30 轮)两次:只用 EarlyStopping(patience=2),它在第 5 轮左右就停了;再加上
# ReduceLROnPlateau(factor=0.1, patience=1),学习率降下来之后训练得更久,准确率也更高。
#
# 本笔记本由 `course/notebooks/article_reduce_lr.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/reduce_lr_article.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup, show
DEVICE = setup()

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
EPOCHS = 10 if QUICK else 30  # 最多训练的轮数
SUBSET = 600 if QUICK else 0           # 训练图片数(0 = 全部 50,000 张)
VAL_SUBSET = 300 if QUICK else 0       # 验证图片数(0 = 全部 10,000 张)
JOBS = 1 if QUICK or DEVICE != "cpu" else os.cpu_count()   # 同时训练几个运行(GPU 上为 1)

# %% [markdown]
# ## 网络
#
# 文章的网络:784 个像素 → 784 个 ReLU 神经元 → Dropout(0.5) → 10 个类别。权重按 Keras 的
# `kernel_initializer='normal'` 初始化(均值 0、标准差 0.05 的正态分布)。

# %%
import paddle
import paddle.nn.functional as F
from paddle import nn

from course.chapters.article_reduce_lr import BATCH_SIZE, LR, SEED
from course.engine.trainer import evaluate
from data.mnist import load_data


class MLP(nn.Layer):
    def __init__(self):
        super().__init__()
        normal = nn.initializer.Normal(mean=0.0, std=0.05)
        self.hidden = nn.Linear(784, 784, weight_attr=paddle.ParamAttr(initializer=normal))
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(784, 10, weight_attr=paddle.ParamAttr(initializer=normal))

    def forward(self, inputs):
        return self.out(self.dropout(F.relu(self.hidden(paddle.flatten(inputs, 1)))))


splits = mnist_splits(DATASET, SUBSET, VAL_SUBSET)

# %% [markdown]
# ## 两个回调,写在训练循环里
#
# 每一轮结束在验证集上算准确率,然后按两条规则决定下一步(文章的设置:`min_delta=1e-4`):
#
# - ReduceLROnPlateau:准确率比最好的高出 `min_delta` 才算改善;连续 `patience=1` 轮没有改善,
#   学习率乘以 `factor=0.1`,计数清零;
# - EarlyStopping:连续 `patience=2` 轮没有改善,停止训练。
#
# 把 `REDUCE_LR` 改成 `False`,就是只有 EarlyStopping 的那一次训练。

# %%
REDUCE_LR = True
paddle.seed(SEED)
model = MLP()
opt = paddle.optimizer.Adam(learning_rate=LR, parameters=model.parameters())
best, wait_lr, wait_stop = 0.0, 0, 0
hand_history = []                     # 每一轮:(验证集准确率, 这一轮用的学习率)
for epoch in range(EPOCHS):
    model.train()
    for images, labels in load_data("train", batch_size=BATCH_SIZE, splits=splits, seed=epoch)():
        loss = F.cross_entropy(model(paddle.to_tensor(images)), paddle.to_tensor(labels))
        loss.backward()
        opt.step()
        opt.clear_grad()
    val_loss, val_acc = evaluate(model, load_data("valid", splits=splits)())
    hand_history.append((val_acc, opt.get_lr()))
    print(f"epoch {epoch + 1}: 验证集准确率 {val_acc:.2%},学习率 {opt.get_lr():g}")
    if val_acc > best + 1e-4:         # 改善了
        best, wait_lr, wait_stop = val_acc, 0, 0
        continue
    wait_lr, wait_stop = wait_lr + 1, wait_stop + 1
    if REDUCE_LR and wait_lr >= 1:    # ReduceLROnPlateau(factor=0.1, patience=1)
        opt.set_lr(opt.get_lr() * 0.1)
        wait_lr = 0
    if wait_stop >= 2:                # EarlyStopping(patience=2)
        print(f"EarlyStopping:第 {epoch + 1} 轮后停止")
        break

# %% [markdown]
# ## 文章的实验
#
# 项目的训练引擎有按 Keras 规则实现的 EarlyStopping 和 ReduceLROnPlateau(`course/engine/callbacks/`)。
# 下面是文章的两次训练,各有自己的运行目录;每一轮的学习率也写进 VisualDL(标签 `lr`),
# 可以和准确率曲线对照着看。

# %%
from IPython.display import Markdown, display

from course.chapters.article_reduce_lr import EARLY_STOP, MODEL, REDUCE_LR as PLATEAU, stopping_summary
from course.chapters.common import run_and_report
from course.cli import Launch
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

base = RunConfig(dataset=DATASET, model=MODEL, lr=LR, epochs=EPOCHS, batch_size=BATCH_SIZE, subset=SUBSET,
                 val_subset=VAL_SUBSET, early_stop=EARLY_STOP, device=DEVICE, defaults="keras")   # Keras 的 Adam
arms = [{"optimizer": "adam", "label": "es"},
        {"optimizer": "adam", "label": "es+plateau", "reduce_lr_on_plateau": PLATEAU}]
sweep = Sweep(base, arms, lrs=[LR], seeds=[SEED], logdir=LOGDIR)
report = run_and_report(sweep, Launch(jobs=JOBS, progress=False, overwrite=True),
                        title=f"{sweep.root.name}: EarlyStopping vs + ReduceLROnPlateau (article 003)",
                        summary=stopping_summary)
runs = {run["variant"]: {"val_acc": [h["val_acc"] for h in run["history"]], "lr": [h["lr"] for h in run["history"]]}
        for run in report["runs"]}
display(Markdown(report["table"]))
show(report["curves"])
