# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'login_dialog.ui'
##
## Created by: Qt User Interface Compiler version 6.11.3
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QBrush, QColor, QConicalGradient, QCursor,
    QFont, QFontDatabase, QGradient, QIcon,
    QImage, QKeySequence, QLinearGradient, QPainter,
    QPalette, QPixmap, QRadialGradient, QTransform)
from PySide6.QtWidgets import (QApplication, QDialog, QFormLayout, QHBoxLayout,
    QLabel, QLineEdit, QProgressBar, QPushButton,
    QRadioButton, QSizePolicy, QSpacerItem, QVBoxLayout,
    QWidget)

class Ui_LoginDialog(object):
    def setupUi(self, LoginDialog):
        if not LoginDialog.objectName():
            LoginDialog.setObjectName(u"LoginDialog")
        LoginDialog.resize(440, 400)
        self.outerLayout = QVBoxLayout(LoginDialog)
        self.outerLayout.setSpacing(10)
        self.outerLayout.setObjectName(u"outerLayout")
        self.outerLayout.setContentsMargins(28, 24, 28, 20)
        self.titleLabel = QLabel(LoginDialog)
        self.titleLabel.setObjectName(u"titleLabel")
        self.titleLabel.setProperty(u"role", u"title")

        self.outerLayout.addWidget(self.titleLabel)

        self.whereRow = QHBoxLayout()
        self.whereRow.setObjectName(u"whereRow")
        self.thisComputerRadio = QRadioButton(LoginDialog)
        self.thisComputerRadio.setObjectName(u"thisComputerRadio")
        self.thisComputerRadio.setChecked(True)

        self.whereRow.addWidget(self.thisComputerRadio)

        self.serverRadio = QRadioButton(LoginDialog)
        self.serverRadio.setObjectName(u"serverRadio")

        self.whereRow.addWidget(self.serverRadio)

        self.profileButton = QPushButton(LoginDialog)
        self.profileButton.setObjectName(u"profileButton")

        self.whereRow.addWidget(self.profileButton)

        self.whereSpacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.whereRow.addItem(self.whereSpacer)


        self.outerLayout.addLayout(self.whereRow)

        self.clinicLabel = QLabel(LoginDialog)
        self.clinicLabel.setObjectName(u"clinicLabel")
        self.clinicLabel.setWordWrap(True)
        self.clinicLabel.setProperty(u"role", u"muted")

        self.outerLayout.addWidget(self.clinicLabel)

        self.demoHint = QLabel(LoginDialog)
        self.demoHint.setObjectName(u"demoHint")
        self.demoHint.setWordWrap(True)
        self.demoHint.setProperty(u"role", u"notice")

        self.outerLayout.addWidget(self.demoHint)

        self.formLayout = QFormLayout()
        self.formLayout.setObjectName(u"formLayout")
        self.formLayout.setLabelAlignment(Qt.AlignRight|Qt.AlignVCenter)
        self.formLayout.setHorizontalSpacing(10)
        self.formLayout.setVerticalSpacing(10)
        self.usernameLabel = QLabel(LoginDialog)
        self.usernameLabel.setObjectName(u"usernameLabel")

        self.formLayout.setWidget(0, QFormLayout.ItemRole.LabelRole, self.usernameLabel)

        self.usernameEdit = QLineEdit(LoginDialog)
        self.usernameEdit.setObjectName(u"usernameEdit")
        self.usernameEdit.setMaxLength(64)

        self.formLayout.setWidget(0, QFormLayout.ItemRole.FieldRole, self.usernameEdit)

        self.passwordLabel = QLabel(LoginDialog)
        self.passwordLabel.setObjectName(u"passwordLabel")

        self.formLayout.setWidget(1, QFormLayout.ItemRole.LabelRole, self.passwordLabel)

        self.passwordEdit = QLineEdit(LoginDialog)
        self.passwordEdit.setObjectName(u"passwordEdit")
        self.passwordEdit.setEchoMode(QLineEdit.Password)

        self.formLayout.setWidget(1, QFormLayout.ItemRole.FieldRole, self.passwordEdit)


        self.outerLayout.addLayout(self.formLayout)

        self.errorLabel = QLabel(LoginDialog)
        self.errorLabel.setObjectName(u"errorLabel")
        self.errorLabel.setWordWrap(True)
        self.errorLabel.setProperty(u"role", u"error")

        self.outerLayout.addWidget(self.errorLabel)

        self.busyBar = QProgressBar(LoginDialog)
        self.busyBar.setObjectName(u"busyBar")
        self.busyBar.setMaximum(0)
        self.busyBar.setTextVisible(False)
        self.busyBar.setMaximumSize(QSize(16777215, 6))

        self.outerLayout.addWidget(self.busyBar)

        self.verticalSpacer = QSpacerItem(20, 10, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.outerLayout.addItem(self.verticalSpacer)

        self.buttonRow = QHBoxLayout()
        self.buttonRow.setObjectName(u"buttonRow")
        self.otherClinicButton = QPushButton(LoginDialog)
        self.otherClinicButton.setObjectName(u"otherClinicButton")
        self.otherClinicButton.setAutoDefault(False)
        self.otherClinicButton.setProperty(u"flat", True)

        self.buttonRow.addWidget(self.otherClinicButton)

        self.recoveryButton = QPushButton(LoginDialog)
        self.recoveryButton.setObjectName(u"recoveryButton")
        self.recoveryButton.setAutoDefault(False)
        self.recoveryButton.setProperty(u"flat", True)

        self.buttonRow.addWidget(self.recoveryButton)

        self.buttonSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.buttonRow.addItem(self.buttonSpacer)

        self.cancelButton = QPushButton(LoginDialog)
        self.cancelButton.setObjectName(u"cancelButton")
        self.cancelButton.setAutoDefault(False)

        self.buttonRow.addWidget(self.cancelButton)

        self.signInButton = QPushButton(LoginDialog)
        self.signInButton.setObjectName(u"signInButton")

        self.buttonRow.addWidget(self.signInButton)


        self.outerLayout.addLayout(self.buttonRow)

#if QT_CONFIG(shortcut)
        self.usernameLabel.setBuddy(self.usernameEdit)
        self.passwordLabel.setBuddy(self.passwordEdit)
#endif // QT_CONFIG(shortcut)
        QWidget.setTabOrder(self.usernameEdit, self.passwordEdit)
        QWidget.setTabOrder(self.passwordEdit, self.signInButton)
        QWidget.setTabOrder(self.signInButton, self.cancelButton)
        QWidget.setTabOrder(self.cancelButton, self.otherClinicButton)
        QWidget.setTabOrder(self.otherClinicButton, self.recoveryButton)

        self.retranslateUi(LoginDialog)

        self.signInButton.setDefault(True)


        QMetaObject.connectSlotsByName(LoginDialog)
    # setupUi

    def retranslateUi(self, LoginDialog):
        LoginDialog.setWindowTitle(QCoreApplication.translate("LoginDialog", u"Sign in \u2014 CoCM Desktop", None))
        self.titleLabel.setText(QCoreApplication.translate("LoginDialog", u"Sign in", None))
        self.thisComputerRadio.setText(QCoreApplication.translate("LoginDialog", u"This computer", None))
#if QT_CONFIG(tooltip)
        self.thisComputerRadio.setToolTip(QCoreApplication.translate("LoginDialog", u"The encrypted clinic file on this computer", None))
#endif // QT_CONFIG(tooltip)
        self.serverRadio.setText(QCoreApplication.translate("LoginDialog", u"Clinic server", None))
#if QT_CONFIG(tooltip)
        self.serverRadio.setToolTip(QCoreApplication.translate("LoginDialog", u"The clinic's PostgreSQL server, through this computer's connection profile", None))
#endif // QT_CONFIG(tooltip)
        self.profileButton.setText(QCoreApplication.translate("LoginDialog", u"Connection profile\u2026", None))
#if QT_CONFIG(tooltip)
        self.profileButton.setToolTip(QCoreApplication.translate("LoginDialog", u"Choose the connection profile the clinic's IT person gave you (host, port, CA certificate; never a password)", None))
#endif // QT_CONFIG(tooltip)
        self.clinicLabel.setText(QCoreApplication.translate("LoginDialog", u"Clinic", None))
        self.demoHint.setText(QCoreApplication.translate("LoginDialog", u"Demo clinic: sign in as lead, cm1, cm2, psych, doc1 or doc2 with the password \u201cdemo\u201d. All patients are invented.", None))
        self.usernameLabel.setText(QCoreApplication.translate("LoginDialog", u"&Username", None))
        self.passwordLabel.setText(QCoreApplication.translate("LoginDialog", u"&Password", None))
        self.errorLabel.setText("")
        self.otherClinicButton.setText(QCoreApplication.translate("LoginDialog", u"Other clinic\u2026", None))
        self.recoveryButton.setText(QCoreApplication.translate("LoginDialog", u"Use recovery code\u2026", None))
        self.cancelButton.setText(QCoreApplication.translate("LoginDialog", u"Quit", None))
        self.signInButton.setText(QCoreApplication.translate("LoginDialog", u"Sign in", None))
    # retranslateUi

