# %% [markdown]
# # 手写数字识别之损失函数
#
# 损失函数衡量模型的输出和真实标签差多远,训练就是让它变小。手写数字识别可以看成两种任务:
#
# - **回归**:网络输出一个数,希望它等于数字本身;损失是均方误差(MSE),答案是四舍五入后的输出。
# - **分类**:网络输出 10 个得分,softmax 把它们变成 10 个概率;损失是交叉熵,即正确类别概率的
#   负对数。
#
# 同一个网络、同样的数据和优化器,第二种学得好得多:数字的大小不是距离,7 并不比 1 更"接近" 8,
# 均方误差却按这个距离惩罚错误。
#
# 本笔记本由 `course/notebooks/ch3_loss.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/ch3_loss.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup, show
DEVICE = setup()

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
LR = 0.01                     # SGD 的学习率
EPOCHS = 2 if QUICK else 5
SUBSET = 1000 if QUICK else 10_000     # 训练图片数(0 = 全部 50,000 张)
VAL_SUBSET = 500 if QUICK else 0       # 验证图片数(0 = 全部 10,000 张)
JOBS = 1 if QUICK or DEVICE != "cpu" else os.cpu_count()   # 同时训练几个运行(GPU 上为 1)

# %% [markdown]
# ## Softmax 和交叉熵
#
# softmax 把 10 个任意的得分 $z_i$ 变成 10 个加起来为 1 的概率 $p_i = e^{z_i} / \sum_j e^{z_j}$;
# 交叉熵只看正确类别 $y$ 的概率:$L = -\log p_y$。正确类别的概率越接近 1,损失越接近 0。
# 下面用三个类别算一遍,和飞桨的 `F.cross_entropy`(它自己先做 softmax)对比。
# 课程原文用的 `fluid.layers.cross_entropy` 输入的是概率、不求平均,所以后面还跟着
# `fluid.layers.mean`;新旧写法的对照见 [docs/fluid_to_paddle3.md](../../docs/fluid_to_paddle3.md)。

# %%
import paddle
import paddle.nn.functional as F

scores = paddle.to_tensor([[2.0, 1.0, 0.1]])
label = paddle.to_tensor([[0]])
probs = F.softmax(scores)
ce_by_hand = float(-paddle.log(probs[0, 0]))
ce_paddle = float(F.cross_entropy(scores, label))
print(f"概率 {probs.numpy().round(3)},手算的交叉熵 {ce_by_hand:.4f},F.cross_entropy {ce_paddle:.4f}")

# %% [markdown]
# ## 同一个网络,两种损失
#
# 网络是一个隐藏层的前馈网络,只有输出的个数不同:回归输出 1 个数,分类输出 10 个得分。
# 训练循环也一样,只换损失函数。回归的准确率是"四舍五入后的输出等于标签"的比例。

# %%
from course.engine.trainer import evaluate
from data.mnist import load_data


class MNIST(paddle.nn.Layer):
    def __init__(self, outputs):
        super().__init__()
        self.hidden = paddle.nn.Linear(784, 256)
        self.out = paddle.nn.Linear(256, outputs)

    def forward(self, inputs):
        return self.out(F.relu(self.hidden(paddle.flatten(inputs, 1))))


def regression_loss(predicts, labels):           # 数字当成一个数:均方误差
    return F.mse_loss(predicts, labels.astype("float32"))


splits = mnist_splits(DATASET, SUBSET, VAL_SUBSET)
hand_acc = {}
for kind, outputs, loss_fn in [("mse", 1, regression_loss), ("ce", 10, F.cross_entropy)]:
    paddle.seed(0)
    model = MNIST(outputs)
    opt = paddle.optimizer.SGD(learning_rate=LR, parameters=model.parameters())
    for epoch in range(EPOCHS):
        for images, labels in load_data("train", batch_size=64, splits=splits, seed=epoch)():
            loss = loss_fn(model(paddle.to_tensor(images)), paddle.to_tensor(labels))
            loss.backward()
            opt.step()
            opt.clear_grad()
    val_loss, hand_acc[kind] = evaluate(model, load_data("valid", splits=splits)(), loss_kind=kind)
    print(f"{kind}: 验证集损失 {val_loss:.4f},准确率 {hand_acc[kind]:.2%}")

# %% [markdown]
# ## 课程的卷积网络上的对比实验
#
# 命令行版本在课程的 LeNet 上做同样的对比:`loss="mse"` 时网络只有 1 个输出,`loss="ce"` 时有 10 个。
# 两个运行各有自己的目录(配置、每轮指标、VisualDL 记录、模型),最后打印对比表、画出曲线。

# %%
from IPython.display import Markdown, display

from course.chapters.ch3_loss import ARMS
from course.chapters.common import run_and_report
from course.cli import Launch
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

base = RunConfig(dataset=DATASET, model="lenet", epochs=EPOCHS, subset=SUBSET, val_subset=VAL_SUBSET,
                 stop_at_chance=False, device=DEVICE)
sweep = Sweep(base, ARMS, lrs=[LR], logdir=LOGDIR, folder="ch3-loss")
report = run_and_report(sweep, Launch(jobs=JOBS, progress=False, overwrite=True),
                        title="ch3-loss: lenet, MSE regression vs cross-entropy (损失函数)")
final_acc = {run["variant"]: run["final_val_acc"] for run in report["runs"]}
display(Markdown(report["table"]))
show(report["curves"])

# %% [markdown]
# ## 小结
#
# - 回归把"数字的大小"当成了要学的东西:把 1 认成 2 和把 1 认成 9 受到的惩罚差很多,这没有道理。
# - 分类用 softmax 给每个类别一个概率,交叉熵只奖励正确类别的概率,各个类别一视同仁。
# - 飞桨的 `F.cross_entropy` 自己做 softmax,所以网络最后一层输出原始得分(logits)就好;
#   再加一层 softmax 会让梯度变小(第 2 节量过它的代价)。
