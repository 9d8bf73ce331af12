# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'start_dialog.ui'
##
## Created by: Qt User Interface Compiler version 6.12.0
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
from PySide6.QtWidgets import (QApplication, QCheckBox, QDialog, QFormLayout,
    QHBoxLayout, QLabel, QLineEdit, QProgressBar,
    QPushButton, QSizePolicy, QSpacerItem, QStackedWidget,
    QVBoxLayout, QWidget)

class Ui_StartDialog(object):
    def setupUi(self, StartDialog):
        if not StartDialog.objectName():
            StartDialog.setObjectName(u"StartDialog")
        StartDialog.resize(560, 520)
        self.outerLayout = QVBoxLayout(StartDialog)
        self.outerLayout.setObjectName(u"outerLayout")
        self.outerLayout.setContentsMargins(0, 0, 0, 0)
        self.pages = QStackedWidget(StartDialog)
        self.pages.setObjectName(u"pages")
        self.choosePage = QWidget()
        self.choosePage.setObjectName(u"choosePage")
        self.chooseLayout = QVBoxLayout(self.choosePage)
        self.chooseLayout.setSpacing(12)
        self.chooseLayout.setObjectName(u"chooseLayout")
        self.chooseLayout.setContentsMargins(32, 28, 32, 24)
        self.welcomeTitle = QLabel(self.choosePage)
        self.welcomeTitle.setObjectName(u"welcomeTitle")
        self.welcomeTitle.setProperty(u"role", u"title")

        self.chooseLayout.addWidget(self.welcomeTitle)

        self.welcomeText = QLabel(self.choosePage)
        self.welcomeText.setObjectName(u"welcomeText")
        self.welcomeText.setWordWrap(True)
        self.welcomeText.setProperty(u"role", u"muted")

        self.chooseLayout.addWidget(self.welcomeText)

        self.demoButton = QPushButton(self.choosePage)
        self.demoButton.setObjectName(u"demoButton")
        self.demoButton.setProperty(u"choice", True)
        self.demoButton.setAutoDefault(False)

        self.chooseLayout.addWidget(self.demoButton)

        self.newClinicButton = QPushButton(self.choosePage)
        self.newClinicButton.setObjectName(u"newClinicButton")
        self.newClinicButton.setProperty(u"choice", True)
        self.newClinicButton.setAutoDefault(False)

        self.chooseLayout.addWidget(self.newClinicButton)

        self.openFileButton = QPushButton(self.choosePage)
        self.openFileButton.setObjectName(u"openFileButton")
        self.openFileButton.setProperty(u"choice", True)
        self.openFileButton.setAutoDefault(False)

        self.chooseLayout.addWidget(self.openFileButton)

        self.chooseError = QLabel(self.choosePage)
        self.chooseError.setObjectName(u"chooseError")
        self.chooseError.setWordWrap(True)
        self.chooseError.setProperty(u"role", u"error")

        self.chooseLayout.addWidget(self.chooseError)

        self.busyRow = QHBoxLayout()
        self.busyRow.setObjectName(u"busyRow")
        self.busyLabel = QLabel(self.choosePage)
        self.busyLabel.setObjectName(u"busyLabel")
        self.busyLabel.setProperty(u"role", u"muted")

        self.busyRow.addWidget(self.busyLabel)

        self.busyBar = QProgressBar(self.choosePage)
        self.busyBar.setObjectName(u"busyBar")
        self.busyBar.setMaximum(0)
        self.busyBar.setTextVisible(False)
        self.busyBar.setMaximumSize(QSize(16777215, 8))

        self.busyRow.addWidget(self.busyBar)


        self.chooseLayout.addLayout(self.busyRow)

        self.chooseSpacer = QSpacerItem(20, 10, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.chooseLayout.addItem(self.chooseSpacer)

        self.chooseButtons = QHBoxLayout()
        self.chooseButtons.setObjectName(u"chooseButtons")
        self.chooseButtonSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.chooseButtons.addItem(self.chooseButtonSpacer)

        self.quitButton = QPushButton(self.choosePage)
        self.quitButton.setObjectName(u"quitButton")
        self.quitButton.setAutoDefault(False)

        self.chooseButtons.addWidget(self.quitButton)


        self.chooseLayout.addLayout(self.chooseButtons)

        self.pages.addWidget(self.choosePage)
        self.newClinicPage = QWidget()
        self.newClinicPage.setObjectName(u"newClinicPage")
        self.newClinicLayout = QVBoxLayout(self.newClinicPage)
        self.newClinicLayout.setSpacing(10)
        self.newClinicLayout.setObjectName(u"newClinicLayout")
        self.newClinicLayout.setContentsMargins(32, 28, 32, 24)
        self.newClinicTitle = QLabel(self.newClinicPage)
        self.newClinicTitle.setObjectName(u"newClinicTitle")
        self.newClinicTitle.setProperty(u"role", u"title")

        self.newClinicLayout.addWidget(self.newClinicTitle)

        self.newClinicText = QLabel(self.newClinicPage)
        self.newClinicText.setObjectName(u"newClinicText")
        self.newClinicText.setWordWrap(True)
        self.newClinicText.setProperty(u"role", u"muted")

        self.newClinicLayout.addWidget(self.newClinicText)

        self.newClinicForm = QFormLayout()
        self.newClinicForm.setObjectName(u"newClinicForm")
        self.newClinicForm.setLabelAlignment(Qt.AlignRight|Qt.AlignVCenter)
        self.newClinicForm.setHorizontalSpacing(10)
        self.newClinicForm.setVerticalSpacing(9)
        self.clinicNameLabel = QLabel(self.newClinicPage)
        self.clinicNameLabel.setObjectName(u"clinicNameLabel")

        self.newClinicForm.setWidget(0, QFormLayout.ItemRole.LabelRole, self.clinicNameLabel)

        self.clinicNameEdit = QLineEdit(self.newClinicPage)
        self.clinicNameEdit.setObjectName(u"clinicNameEdit")
        self.clinicNameEdit.setMaxLength(120)

        self.newClinicForm.setWidget(0, QFormLayout.ItemRole.FieldRole, self.clinicNameEdit)

        self.leadNameLabel = QLabel(self.newClinicPage)
        self.leadNameLabel.setObjectName(u"leadNameLabel")

        self.newClinicForm.setWidget(1, QFormLayout.ItemRole.LabelRole, self.leadNameLabel)

        self.leadNameEdit = QLineEdit(self.newClinicPage)
        self.leadNameEdit.setObjectName(u"leadNameEdit")
        self.leadNameEdit.setMaxLength(200)

        self.newClinicForm.setWidget(1, QFormLayout.ItemRole.FieldRole, self.leadNameEdit)

        self.leadUserLabel = QLabel(self.newClinicPage)
        self.leadUserLabel.setObjectName(u"leadUserLabel")

        self.newClinicForm.setWidget(2, QFormLayout.ItemRole.LabelRole, self.leadUserLabel)

        self.leadUserEdit = QLineEdit(self.newClinicPage)
        self.leadUserEdit.setObjectName(u"leadUserEdit")
        self.leadUserEdit.setMaxLength(32)

        self.newClinicForm.setWidget(2, QFormLayout.ItemRole.FieldRole, self.leadUserEdit)

        self.passwordLabel = QLabel(self.newClinicPage)
        self.passwordLabel.setObjectName(u"passwordLabel")

        self.newClinicForm.setWidget(3, QFormLayout.ItemRole.LabelRole, self.passwordLabel)

        self.passwordEdit = QLineEdit(self.newClinicPage)
        self.passwordEdit.setObjectName(u"passwordEdit")
        self.passwordEdit.setEchoMode(QLineEdit.Password)

        self.newClinicForm.setWidget(3, QFormLayout.ItemRole.FieldRole, self.passwordEdit)

        self.password2Label = QLabel(self.newClinicPage)
        self.password2Label.setObjectName(u"password2Label")

        self.newClinicForm.setWidget(4, QFormLayout.ItemRole.LabelRole, self.password2Label)

        self.password2Edit = QLineEdit(self.newClinicPage)
        self.password2Edit.setObjectName(u"password2Edit")
        self.password2Edit.setEchoMode(QLineEdit.Password)

        self.newClinicForm.setWidget(4, QFormLayout.ItemRole.FieldRole, self.password2Edit)

        self.locationLabel = QLabel(self.newClinicPage)
        self.locationLabel.setObjectName(u"locationLabel")

        self.newClinicForm.setWidget(5, QFormLayout.ItemRole.LabelRole, self.locationLabel)

        self.locationRow = QHBoxLayout()
        self.locationRow.setObjectName(u"locationRow")
        self.locationEdit = QLineEdit(self.newClinicPage)
        self.locationEdit.setObjectName(u"locationEdit")

        self.locationRow.addWidget(self.locationEdit)

        self.browseButton = QPushButton(self.newClinicPage)
        self.browseButton.setObjectName(u"browseButton")
        self.browseButton.setAutoDefault(False)

        self.locationRow.addWidget(self.browseButton)


        self.newClinicForm.setLayout(5, QFormLayout.ItemRole.FieldRole, self.locationRow)


        self.newClinicLayout.addLayout(self.newClinicForm)

        self.newClinicError = QLabel(self.newClinicPage)
        self.newClinicError.setObjectName(u"newClinicError")
        self.newClinicError.setWordWrap(True)
        self.newClinicError.setProperty(u"role", u"error")

        self.newClinicLayout.addWidget(self.newClinicError)

        self.createBusyBar = QProgressBar(self.newClinicPage)
        self.createBusyBar.setObjectName(u"createBusyBar")
        self.createBusyBar.setMaximum(0)
        self.createBusyBar.setTextVisible(False)
        self.createBusyBar.setMaximumSize(QSize(16777215, 8))

        self.newClinicLayout.addWidget(self.createBusyBar)

        self.newClinicSpacer = QSpacerItem(20, 10, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.newClinicLayout.addItem(self.newClinicSpacer)

        self.newClinicButtons = QHBoxLayout()
        self.newClinicButtons.setObjectName(u"newClinicButtons")
        self.backButton = QPushButton(self.newClinicPage)
        self.backButton.setObjectName(u"backButton")
        self.backButton.setAutoDefault(False)

        self.newClinicButtons.addWidget(self.backButton)

        self.newClinicButtonSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.newClinicButtons.addItem(self.newClinicButtonSpacer)

        self.createButton = QPushButton(self.newClinicPage)
        self.createButton.setObjectName(u"createButton")
        self.createButton.setProperty(u"primary", True)
        self.createButton.setAutoDefault(False)

        self.newClinicButtons.addWidget(self.createButton)


        self.newClinicLayout.addLayout(self.newClinicButtons)

        self.pages.addWidget(self.newClinicPage)
        self.recoveryPage = QWidget()
        self.recoveryPage.setObjectName(u"recoveryPage")
        self.recoveryLayout = QVBoxLayout(self.recoveryPage)
        self.recoveryLayout.setSpacing(12)
        self.recoveryLayout.setObjectName(u"recoveryLayout")
        self.recoveryLayout.setContentsMargins(32, 28, 32, 24)
        self.recoveryTitle = QLabel(self.recoveryPage)
        self.recoveryTitle.setObjectName(u"recoveryTitle")
        self.recoveryTitle.setProperty(u"role", u"title")

        self.recoveryLayout.addWidget(self.recoveryTitle)

        self.recoveryText = QLabel(self.recoveryPage)
        self.recoveryText.setObjectName(u"recoveryText")
        self.recoveryText.setWordWrap(True)

        self.recoveryLayout.addWidget(self.recoveryText)

        self.recoveryCode = QLabel(self.recoveryPage)
        self.recoveryCode.setObjectName(u"recoveryCode")
        self.recoveryCode.setText(u"XXXX-XXXX")
        self.recoveryCode.setAlignment(Qt.AlignCenter)
        self.recoveryCode.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.recoveryCode.setProperty(u"role", u"code")

        self.recoveryLayout.addWidget(self.recoveryCode)

        self.copyRow = QHBoxLayout()
        self.copyRow.setObjectName(u"copyRow")
        self.copySpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.copyRow.addItem(self.copySpacer)

        self.copyButton = QPushButton(self.recoveryPage)
        self.copyButton.setObjectName(u"copyButton")
        self.copyButton.setAutoDefault(False)

        self.copyRow.addWidget(self.copyButton)


        self.recoveryLayout.addLayout(self.copyRow)

        self.savedCheck = QCheckBox(self.recoveryPage)
        self.savedCheck.setObjectName(u"savedCheck")

        self.recoveryLayout.addWidget(self.savedCheck)

        self.recoverySpacer = QSpacerItem(20, 10, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.recoveryLayout.addItem(self.recoverySpacer)

        self.recoveryButtons = QHBoxLayout()
        self.recoveryButtons.setObjectName(u"recoveryButtons")
        self.recoveryButtonSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.recoveryButtons.addItem(self.recoveryButtonSpacer)

        self.continueButton = QPushButton(self.recoveryPage)
        self.continueButton.setObjectName(u"continueButton")
        self.continueButton.setEnabled(False)
        self.continueButton.setProperty(u"primary", True)
        self.continueButton.setAutoDefault(False)

        self.recoveryButtons.addWidget(self.continueButton)


        self.recoveryLayout.addLayout(self.recoveryButtons)

        self.pages.addWidget(self.recoveryPage)

        self.outerLayout.addWidget(self.pages)

#if QT_CONFIG(shortcut)
        self.clinicNameLabel.setBuddy(self.clinicNameEdit)
        self.leadNameLabel.setBuddy(self.leadNameEdit)
        self.leadUserLabel.setBuddy(self.leadUserEdit)
        self.passwordLabel.setBuddy(self.passwordEdit)
        self.password2Label.setBuddy(self.password2Edit)
        self.locationLabel.setBuddy(self.locationEdit)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(StartDialog)

        self.pages.setCurrentIndex(0)


        QMetaObject.connectSlotsByName(StartDialog)
    # setupUi

    def retranslateUi(self, StartDialog):
        StartDialog.setWindowTitle(QCoreApplication.translate("StartDialog", u"Welcome \u2014 CoCM Desktop", None))
        self.welcomeTitle.setText(QCoreApplication.translate("StartDialog", u"Welcome to CoCM Desktop", None))
        self.welcomeText.setText(QCoreApplication.translate("StartDialog", u"Collaborative care for your primary-care clinic: registry, charts, case review and billing time, kept encrypted on this computer.", None))
        self.demoButton.setText(QCoreApplication.translate("StartDialog", u"Open the demo clinic\n"
"Try the app with 60 invented patients; nothing real is stored.", None))
        self.newClinicButton.setText(QCoreApplication.translate("StartDialog", u"Set up a new clinic\n"
"Create an encrypted clinic database and its first clinic-lead account.", None))
        self.openFileButton.setText(QCoreApplication.translate("StartDialog", u"Open a clinic file\u2026\n"
"Choose an existing clinic database (for example one IT has set up).", None))
        self.chooseError.setText("")
        self.busyLabel.setText(QCoreApplication.translate("StartDialog", u"Creating the demo clinic\u2026", None))
        self.quitButton.setText(QCoreApplication.translate("StartDialog", u"Quit", None))
        self.newClinicTitle.setText(QCoreApplication.translate("StartDialog", u"Set up a new clinic", None))
        self.newClinicText.setText(QCoreApplication.translate("StartDialog", u"You become the clinic lead: you add the care managers, clinicians and the psychiatric consultant afterwards. Choose a strong password; nobody can reset it for you.", None))
        self.clinicNameLabel.setText(QCoreApplication.translate("StartDialog", u"Clinic &name", None))
        self.clinicNameEdit.setPlaceholderText(QCoreApplication.translate("StartDialog", u"e.g. Riverside Family Medicine", None))
        self.leadNameLabel.setText(QCoreApplication.translate("StartDialog", u"Your &full name", None))
        self.leadUserLabel.setText(QCoreApplication.translate("StartDialog", u"&Username", None))
        self.leadUserEdit.setPlaceholderText(QCoreApplication.translate("StartDialog", u"letters and digits, e.g. jsmith", None))
        self.passwordLabel.setText(QCoreApplication.translate("StartDialog", u"&Password", None))
        self.password2Label.setText(QCoreApplication.translate("StartDialog", u"Password &again", None))
        self.locationLabel.setText(QCoreApplication.translate("StartDialog", u"Save &as", None))
        self.browseButton.setText(QCoreApplication.translate("StartDialog", u"Browse\u2026", None))
        self.newClinicError.setText("")
        self.backButton.setText(QCoreApplication.translate("StartDialog", u"Back", None))
        self.createButton.setText(QCoreApplication.translate("StartDialog", u"Create clinic", None))
        self.recoveryTitle.setText(QCoreApplication.translate("StartDialog", u"Save your recovery code", None))
        self.recoveryText.setText(QCoreApplication.translate("StartDialog", u"This code is the only way back into the clinic database if every clinic-lead password is lost. It is shown once, now. Write it down or print it and keep it locked away, apart from this computer. Its use is recorded in the audit log.", None))
        self.copyButton.setText(QCoreApplication.translate("StartDialog", u"Copy", None))
        self.savedCheck.setText(QCoreApplication.translate("StartDialog", u"I have saved the recovery code somewhere safe", None))
        self.continueButton.setText(QCoreApplication.translate("StartDialog", u"Continue", None))
    # retranslateUi

